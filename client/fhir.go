package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// This file holds the FHIR and Medplum wire types shared by the client, the
// commands and client/medplumtest. Types are views: anything that must keep
// fields this file does not know (writes that spread an existing resource)
// works on a Resource, never on a round trip through one of these structs.

// Resource is a FHIR resource as the server sent it. Numbers are json.Number,
// so decimals and big integers survive unchanged.
type Resource map[string]any

// DecodeResource parses one JSON object, keeping numbers exact.
func DecodeResource(data []byte) (Resource, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var r Resource
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("expected a JSON object, got null")
	}
	return r, nil
}

// Doc is a resource as the server sent it: decoded (numbers exact) to read
// fields from, and its bytes, to print unchanged (-o json is the server's
// JSON: key order, unknown fields, number spelling and escapes kept).
type Doc struct {
	Resource
	Raw json.RawMessage
}

// NewDoc decodes one JSON object the server sent and keeps its bytes.
func NewDoc(raw []byte) (Doc, error) {
	r, err := DecodeResource(raw)
	if err != nil {
		return Doc{}, err
	}
	return Doc{Resource: r, Raw: bytes.TrimSpace(raw)}, nil
}

// ResourceType returns r["resourceType"] or "".
func (r Resource) ResourceType() string { s, _ := r["resourceType"].(string); return s }

// ID returns r["id"] or "".
func (r Resource) ID() string { s, _ := r["id"].(string); return s }

// String returns the string at a top-level key, or "".
func (r Resource) String(key string) string { s, _ := r[key].(string); return s }

// Bool returns the boolean at a top-level key and whether it was present.
func (r Resource) Bool(key string) (bool, bool) { b, ok := r[key].(bool); return b, ok }

// Ref returns the reference string of a top-level Reference field, or "".
func (r Resource) Ref(key string) string {
	m, _ := r[key].(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

// Display returns the display string of a top-level Reference field, or "".
func (r Resource) Display(key string) string {
	m, _ := r[key].(map[string]any)
	s, _ := m["display"].(string)
	return s
}

// Decode converts r into a typed view (e.g. *ProjectMembership).
func (r Resource) Decode(v any) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// Ref builds a Reference from "Type/id".
func Ref(ref string) *Reference { return &Reference{Reference: ref} }

// SplitReference splits "Type/id" into its parts; ok is false for anything else.
func SplitReference(ref string) (typ, id string, ok bool) {
	typ, id, ok = strings.Cut(ref, "/")
	if !ok || typ == "" || id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	return typ, id, true
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Meta is FHIR resource metadata, with Medplum's extended fields.
type Meta struct {
	VersionID   string      `json:"versionId,omitempty"`
	LastUpdated string      `json:"lastUpdated,omitempty"`
	Author      *Reference  `json:"author,omitempty"`
	Project     string      `json:"project,omitempty"`
	Compartment []Reference `json:"compartment,omitempty"`
}

// OperationOutcome is the FHIR error and status resource.
type OperationOutcome struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Issue        []OutcomeIssue    `json:"issue"`
	Extension    []json.RawMessage `json:"extension,omitempty"`
}

// OutcomeIssue is one OperationOutcome.issue.
type OutcomeIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// Text returns details.text, or "".
func (i OutcomeIssue) Text() string {
	if i.Details == nil {
		return ""
	}
	return i.Details.Text
}

// CodingCode returns details.coding[0].code, or "" (Medplum puts "40001" there
// for a retryable serialization conflict).
func (i OutcomeIssue) CodingCode() string {
	if i.Details == nil || len(i.Details.Coding) == 0 {
		return ""
	}
	return i.Details.Coding[0].Code
}

// IsError reports whether any issue has severity error or fatal.
func (o *OperationOutcome) IsError() bool {
	for _, i := range o.Issue {
		if i.Severity == "error" || i.Severity == "fatal" {
			return true
		}
	}
	return false
}

// Bundle is a FHIR Bundle. Entry resources stay raw so they print unchanged.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is one Bundle.link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one Bundle.entry.
type BundleEntry struct {
	FullURL  string               `json:"fullUrl,omitempty"`
	Resource json.RawMessage      `json:"resource,omitempty"`
	Search   *BundleEntrySearch   `json:"search,omitempty"`
	Request  *BundleEntryRequest  `json:"request,omitempty"`
	Response *BundleEntryResponse `json:"response,omitempty"`
}

// BundleEntrySearch is Bundle.entry.search.
type BundleEntrySearch struct {
	Mode string `json:"mode,omitempty"`
}

// BundleEntryRequest is Bundle.entry.request (transactions and batches).
type BundleEntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// BundleEntryResponse is Bundle.entry.response.
type BundleEntryResponse struct {
	Status   string          `json:"status"`
	Location string          `json:"location,omitempty"`
	Outcome  json.RawMessage `json:"outcome,omitempty"`
}

// NextLink returns the URL of link[relation=next], or "".
func (b *Bundle) NextLink() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// ProjectMembership is a read view of Medplum's ProjectMembership.
type ProjectMembership struct {
	ResourceType      string             `json:"resourceType"`
	ID                string             `json:"id,omitempty"`
	Meta              *Meta              `json:"meta,omitempty"`
	Active            *bool              `json:"active,omitempty"`
	Project           *Reference         `json:"project,omitempty"`
	InvitedBy         *Reference         `json:"invitedBy,omitempty"`
	User              *Reference         `json:"user,omitempty"`
	Profile           *Reference         `json:"profile,omitempty"`
	UserName          string             `json:"userName,omitempty"`
	ExternalID        string             `json:"externalId,omitempty"`
	AccessPolicy      *Reference         `json:"accessPolicy,omitempty"`
	Access            []MembershipAccess `json:"access,omitempty"`
	UserConfiguration *Reference         `json:"userConfiguration,omitempty"`
	Identifier        []Identifier       `json:"identifier,omitempty"`
	Admin             *bool              `json:"admin,omitempty"`
}

// MembershipAccess is one ProjectMembership.access entry: a policy and its parameters.
type MembershipAccess struct {
	Policy    *Reference        `json:"policy,omitempty"`
	Parameter []AccessParameter `json:"parameter,omitempty"`
}

// AccessParameter is one ProjectMembership.access.parameter.
type AccessParameter struct {
	Name           string     `json:"name"`
	ValueString    string     `json:"valueString,omitempty"`
	ValueReference *Reference `json:"valueReference,omitempty"`
}

// InviteRequest is the body of POST admin/projects/:id/invite (reference 2.5).
// SendEmail is a pointer so the zero value is never sent by accident; callers
// in this project always set it, because the server e-mails unless it is false.
type InviteRequest struct {
	ResourceType       string             `json:"resourceType"`
	FirstName          string             `json:"firstName,omitempty"`
	LastName           string             `json:"lastName,omitempty"`
	Email              string             `json:"email,omitempty"`
	ExternalID         string             `json:"externalId,omitempty"`
	Patient            *Reference         `json:"patient,omitempty"`
	Scope              string             `json:"scope,omitempty"`
	Password           string             `json:"password,omitempty"`
	SendEmail          *bool              `json:"sendEmail,omitempty"`
	Membership         *InviteMembership  `json:"membership,omitempty"`
	Upsert             bool               `json:"upsert,omitempty"`
	ForceNewMembership bool               `json:"forceNewMembership,omitempty"`
	MfaRequired        bool               `json:"mfaRequired,omitempty"`
	AccessPolicy       *Reference         `json:"accessPolicy,omitempty"` // deprecated top-level form
	Access             []MembershipAccess `json:"access,omitempty"`       // deprecated top-level form
	Admin              *bool              `json:"admin,omitempty"`        // deprecated top-level form
}

// InviteMembership is the partial ProjectMembership template of an invite.
type InviteMembership struct {
	Admin             *bool              `json:"admin,omitempty"`
	AccessPolicy      *Reference         `json:"accessPolicy,omitempty"`
	Access            []MembershipAccess `json:"access,omitempty"`
	Profile           *Reference         `json:"profile,omitempty"`
	Identifier        []Identifier       `json:"identifier,omitempty"`
	UserConfiguration *Reference         `json:"userConfiguration,omitempty"`
	ExternalID        string             `json:"externalId,omitempty"`
	Active            *bool              `json:"active,omitempty"`
}

// TokenResponse is the success body of POST oauth2/token.
type TokenResponse struct {
	TokenType    string     `json:"token_type"`
	ExpiresIn    int        `json:"expires_in"`
	Scope        string     `json:"scope,omitempty"`
	IDToken      string     `json:"id_token,omitempty"`
	AccessToken  string     `json:"access_token"`
	RefreshToken string     `json:"refresh_token,omitempty"`
	Project      *Reference `json:"project,omitempty"`
	Profile      *Reference `json:"profile,omitempty"`
}

// LoginResponse is the body of POST auth/login, auth/profile, auth/scope and
// auth/mfa/verify: exactly one of the shapes in reference 2.6 is filled. On
// 5.0.10 an MFA stage is only {login, mfaRequired: true} (capture 157) or
// {login, mfaEnrollRequired: true, enrollUri, enrollQrCode} (auth/utils.ts).
type LoginResponse struct {
	Login             string            `json:"login,omitempty"`
	Code              string            `json:"code,omitempty"`
	Memberships       []LoginMembership `json:"memberships,omitempty"`
	MfaRequired       bool              `json:"mfaRequired,omitempty"`
	MfaEnrollRequired bool              `json:"mfaEnrollRequired,omitempty"`
	EnrollURI         string            `json:"enrollUri,omitempty"`
}

// LoginMembership is one choice offered by auth/login.
type LoginMembership struct {
	ID         string       `json:"id"`
	Project    *Reference   `json:"project,omitempty"`
	Profile    *Reference   `json:"profile,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
}

// MethodResponse is the body of POST auth/method.
type MethodResponse struct {
	Domain       string `json:"domain,omitempty"`
	AuthorizeURL string `json:"authorizeUrl,omitempty"`
}

// MeResponse is the body of GET auth/me (the parts the CLI uses).
type MeResponse struct {
	User       Resource        `json:"user,omitempty"`
	Project    Resource        `json:"project,omitempty"`
	Membership Resource        `json:"membership,omitempty"`
	Profile    Resource        `json:"profile,omitempty"`
	Security   *MeSecurity     `json:"security,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

// MeSecurity is auth/me's security block.
type MeSecurity struct {
	MfaEnrolled bool       `json:"mfaEnrolled"`
	MfaRequired bool       `json:"mfaRequired,omitempty"`
	Memberships []Resource `json:"memberships,omitempty"`
}
