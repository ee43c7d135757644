package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Typed calls for provisioning projects (reference 2.4): the project's
// settings and secrets, generic FHIR writes, and ClientApplication secret
// rotation.

// ProjectURL is the admin route of a project.
func ProjectURL(projectID string) string {
	return "admin/projects/" + url.PathEscape(projectID)
}

// ProjectSearch is the search parameter that keeps a search to one
// project: "_project=Project%2F<id>". Medplum's search parser does not know
// _project as a search parameter, so it reads a value that starts with a
// FHIR prefix and a digit as that prefix: a bare id starting with "eb1"
// (one project in about 400) would mean "ends before 1..." and match
// nothing (captures 178, 179). The reference form starts with "Pr", which
// is no prefix.
func ProjectSearch(projectID string) string {
	return "_project=" + url.QueryEscape("Project/"+projectID)
}

// ReadProject reads fhir/R4/Project/:id: the Project as the caller's access
// policy shows it, with its bytes. A project admin sees its setting and
// secret arrays (not strictMode or superAdmin: capture 181) and its
// meta.versionId, which PatchProjectList needs. It holds the values of
// the project's secrets: callers must never print it whole.
func (c *Client) ReadProject(ctx context.Context, projectID string) (Doc, error) {
	if err := needIDs(projectID); err != nil {
		return Doc{}, err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: ResourceURL("Project", projectID)})
	if err != nil {
		return Doc{}, err
	}
	d, err := decodeDoc(resp)
	if err == nil && d.ResourceType() != "Project" {
		err = fmt.Errorf("GET %s: expected a Project, got %s", ResourceURL("Project", projectID), describeType(d.ResourceType()))
	}
	return d, err
}

// VersionID is meta.versionId of a resource, or "".
func VersionID(r Resource) string {
	meta, _ := r["meta"].(map[string]any)
	v, _ := meta["versionId"].(string)
	return v
}

// PatchProjectList writes the whole Project.setting or Project.secret
// array (key "setting" or "secret") of the version of the Project read
// (versionID), with one JSON Patch (PATCH fhir/R4/Project/:id) whose first
// operation tests /meta/versionId: if anyone changed the Project since it
// was read, the server answers 400 "Test failed: ..." and writes nothing
// (IsVersionConflict), so a concurrent change is never overwritten. An
// empty list removes the array. 5.0.10 has no admin route for settings
// (capture 180) and reads no If-Match on a PATCH (184); the patch works
// there (182, 183) and on newer servers alike. A secret array's body is
// traced by its size only. Returns the updated Project.
func (c *Client) PatchProjectList(ctx context.Context, projectID, versionID, key string, list []Resource) (Doc, error) {
	if err := needIDs(projectID, versionID); err != nil {
		return Doc{}, err
	}
	if key != "setting" && key != "secret" {
		return Doc{}, fmt.Errorf("PatchProjectList: unknown list %q", key)
	}
	ops := []map[string]any{{"op": "test", "path": "/meta/versionId", "value": versionID}}
	if len(list) == 0 {
		ops = append(ops, map[string]any{"op": "remove", "path": "/" + key})
	} else {
		ops = append(ops, map[string]any{"op": "add", "path": "/" + key, "value": list})
	}
	body, err := EncodeBody(ops)
	if err != nil {
		return Doc{}, err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPatch, URL: ResourceURL("Project", projectID),
		Body: body, ContentType: ContentTypeJSONPatch, SecretBody: key == "secret"})
	if err != nil {
		return Doc{}, err
	}
	return decodeDoc(resp)
}

// IsVersionConflict reports whether err is the server's refusal of a JSON
// Patch whose test of /meta/versionId failed: the resource changed since
// it was read (capture 183), and nothing was written.
func IsVersionConflict(err error) bool {
	e := AsError(err)
	if e == nil || e.Status != http.StatusBadRequest || e.Outcome == nil {
		return false
	}
	for _, is := range e.Outcome.Issue {
		if strings.HasPrefix(is.Text(), "Test failed: ") {
			return true
		}
	}
	return false
}

// SettingValueKeys are the value[x] names of a ProjectSetting (Project.setting
// and Project.secret entries), in the order SettingValue looks for them.
var SettingValueKeys = []string{"valueString", "valueBoolean", "valueInteger", "valueDecimal"}

// SettingValue returns the value[x] of a ProjectSetting entry: its key
// ("valueBoolean") and value. ok is false when the entry has none.
func SettingValue(entry Resource) (key string, value any, ok bool) {
	for _, k := range SettingValueKeys {
		if v, found := entry[k]; found {
			return k, v, true
		}
	}
	return "", nil, false
}

// SettingsList returns the entries of a Project's setting or secret array
// (key "setting" or "secret") that are JSON objects.
func SettingsList(project Resource, key string) []Resource {
	raw, _ := project[key].([]any)
	out := make([]Resource, 0, len(raw))
	for _, e := range raw {
		if m, ok := e.(map[string]any); ok {
			out = append(out, Resource(m))
		}
	}
	return out
}

// ResourceURL is the FHIR URL of a resource type, or of one resource when
// id is given.
func ResourceURL(resourceType, id string) string {
	if id == "" {
		return url.PathEscape(resourceType)
	}
	return url.PathEscape(resourceType) + "/" + url.PathEscape(id)
}

// CreateResource POSTs r to its type's FHIR endpoint and returns the created
// resource.
func (c *Client) CreateResource(ctx context.Context, r Resource) (Doc, error) {
	typ := r.ResourceType()
	if err := needType(typ); err != nil {
		return Doc{}, err
	}
	return c.postJSON(ctx, ResourceURL(typ, ""), r, ContentTypeFHIR)
}

// UpdateResource PUTs r (a whole resource with its id) and returns the
// stored version.
func (c *Client) UpdateResource(ctx context.Context, r Resource) (Resource, error) {
	typ := r.ResourceType()
	if err := needType(typ); err != nil {
		return nil, err
	}
	if err := needIDs(r.ID()); err != nil {
		return nil, err
	}
	body, err := EncodeBody(r)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPut, URL: ResourceURL(typ, r.ID()), Body: body})
	if err != nil {
		return nil, err
	}
	return decodeAnswer(resp)
}

// DeleteResource DELETEs one resource. Deleting it again is fine on
// 5.0.10 (200, capture 521), but a Project's own delete answers 410 Gone
// although it deleted the project (520; see (*Error).IsGone).
func (c *Client) DeleteResource(ctx context.Context, resourceType, id string) error {
	if err := needType(resourceType); err != nil {
		return err
	}
	if err := needIDs(id); err != nil {
		return err
	}
	_, err := c.Do(ctx, &Request{Method: http.MethodDelete, URL: ResourceURL(resourceType, id)})
	return err
}

// SearchAll reads every page of a search and returns the resources.
func (c *Client) SearchAll(ctx context.Context, rawURL string) ([]Resource, error) {
	var out []Resource
	for r, err := range c.Search(ctx, rawURL) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RotateClientSecret runs ClientApplication/:id/$rotate-secret with the
// current secret: the server generates a new secret and keeps the old one as
// retiringSecret (still accepted at the token endpoint) until
// RetireClientSecret. Returns the ClientApplication, both secrets included.
func (c *Client) RotateClientSecret(ctx context.Context, clientID, current string) (Doc, error) {
	return c.rotateSecret(ctx, clientID, "secret", current)
}

// RetireClientSecret runs $rotate-secret with the retiring secret: the
// server forgets it, so only the current secret signs in.
func (c *Client) RetireClientSecret(ctx context.Context, clientID, retiring string) (Doc, error) {
	return c.rotateSecret(ctx, clientID, "retiringSecret", retiring)
}

func (c *Client) rotateSecret(ctx context.Context, clientID, param, value string) (Doc, error) {
	if err := needIDs(clientID); err != nil {
		return Doc{}, err
	}
	if value == "" {
		return Doc{}, fmt.Errorf("rotate secret: the %s to rotate is empty", param)
	}
	body, err := EncodeBody(parameters(param, value))
	if err != nil {
		return Doc{}, err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, URL: ResourceURL("ClientApplication", clientID) + "/$rotate-secret",
		Body: body, SecretBody: true})
	if err != nil {
		return Doc{}, err
	}
	d, err := decodeDoc(resp)
	if err != nil {
		return Doc{}, err
	}
	if d.ResourceType() == "Parameters" {
		d = returnParameter(d)
	}
	if d.ResourceType() != "ClientApplication" {
		return Doc{}, fmt.Errorf("$rotate-secret: expected a ClientApplication, got %s", describeType(d.ResourceType()))
	}
	return d, nil
}

// parameters builds a FHIR Parameters resource with one string parameter.
func parameters(name, value string) map[string]any {
	return map[string]any{
		"resourceType": "Parameters",
		"parameter":    []any{map[string]any{"name": name, "valueString": value}},
	}
}

// returnParameter unwraps Parameters.parameter[name=return].resource.
func returnParameter(p Doc) Doc {
	var params struct {
		Parameter []struct {
			Name     string          `json:"name"`
			Resource json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if json.Unmarshal(p.Raw, &params) != nil {
		return p
	}
	for _, e := range params.Parameter {
		if e.Name == "return" {
			if r, err := NewDoc(e.Resource); err == nil {
				return r
			}
		}
	}
	return p
}

func needType(typ string) error {
	if typ == "" {
		return fmt.Errorf("the resource has no resourceType")
	}
	if err := needIDs(typ); err != nil {
		return err
	}
	return nil
}
