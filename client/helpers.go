package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page is one page of a search: the decoded Bundle and the bytes as
// received (to print the page unchanged).
type Page struct {
	URL    string // the URL the page was read from
	Bundle *Bundle
	Raw    []byte
}

// Pages reads a search and follows Bundle.link[relation=next] until there is
// none, yielding each page. Medplum writes its links with its configured
// baseUrl, which need not be the address the CLI reaches it by (localhost
// against 127.0.0.1, a proxy's name against the server's): a next link on
// another host whose path holds the FHIR path (fhir/R4/...) is read from
// the base URL (NextOnBase). Any other next link on another host is
// followed without credentials (Do never sends them there). Iteration stops at the first
// error, which is yielded; a next link that repeats a URL already read is an
// error rather than an endless loop.
func (c *Client) Pages(ctx context.Context, rawURL string) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		c.walk(ctx, rawURL, func(u string, body []byte) (string, bool, error) {
			var b Bundle
			if err := json.Unmarshal(body, &b); err != nil {
				return "", false, notBundle(u, err)
			}
			if b.ResourceType != "Bundle" {
				return "", false, wrongType(u, b.ResourceType)
			}
			return b.NextLink(), yield(&Page{URL: u, Bundle: &b, Raw: body}, nil), nil
		}, func(err error) { yield(nil, err) })
	}
}

// Search yields the resource of every entry of every page (see Pages),
// decoded with numbers kept exact. Entries without a resource are skipped.
// Each page is parsed once, straight into Resources.
func (c *Client) Search(ctx context.Context, rawURL string) iter.Seq2[Resource, error] {
	return func(yield func(Resource, error) bool) {
		c.walk(ctx, rawURL, func(u string, body []byte) (string, bool, error) {
			var b struct {
				ResourceType string       `json:"resourceType"`
				Link         []BundleLink `json:"link"`
				Entry        []struct {
					Resource Resource `json:"resource"`
				} `json:"entry"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&b); err != nil {
				return "", false, notBundle(u, err)
			}
			if b.ResourceType != "Bundle" {
				return "", false, wrongType(u, b.ResourceType)
			}
			for _, e := range b.Entry {
				if e.Resource != nil && !yield(e.Resource, nil) {
					return "", false, nil
				}
			}
			return (&Bundle{Link: b.Link}).NextLink(), true, nil
		}, func(err error) { yield(nil, err) })
	}
}

// SearchDocs yields the resource of every entry of every page (see Pages)
// with the bytes the server sent, to print them unchanged. Entries without
// a resource are skipped.
func (c *Client) SearchDocs(ctx context.Context, rawURL string) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		for page, err := range c.Pages(ctx, rawURL) {
			if err != nil {
				yield(Doc{}, err)
				return
			}
			for _, e := range page.Bundle.Entry {
				if len(e.Resource) == 0 {
					continue
				}
				d, err := NewDoc(e.Resource)
				if err != nil {
					yield(Doc{}, fmt.Errorf("GET %s: an entry is not a JSON object: %w", RedactURL(page.URL), err))
					return
				}
				if !yield(d, nil) {
					return
				}
			}
		}
	}
}

// SearchPost runs a search as POST fhir/R4/<type>/_search with the
// parameters as a form, for searches too long for a URL (an _id or a
// reference parameter with hundreds of values): it yields every entry's
// resource with its bytes, page after page. A page with a next link is
// followed by posting the same form again with _offset past it (the next
// link itself is a GET URL holding every parameter), so the search must not
// use _cursor paging (no _sort=_lastUpdated) and stays within the server's
// offset limit. The request is a read, safe to retry.
func (c *Client) SearchPost(ctx context.Context, resourceType string, form url.Values) iter.Seq2[Doc, error] {
	return func(yield func(Doc, error) bool) {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		u := url.PathEscape(resourceType) + "/_search" // relative to the FHIR base
		for offset := 0; ; {
			if offset > 0 {
				f.Set("_offset", strconv.Itoa(offset))
			}
			resp, err := c.Do(ctx, &Request{Method: http.MethodPost, URL: u, Body: []byte(f.Encode()),
				ContentType: "application/x-www-form-urlencoded", Idempotent: true})
			if err != nil {
				yield(Doc{}, err)
				return
			}
			var b Bundle
			if err := json.Unmarshal(resp.Body, &b); err != nil {
				yield(Doc{}, fmt.Errorf("POST %s: the answer is not a JSON Bundle: %w", RedactURL(resp.URL), err))
				return
			}
			if b.ResourceType != "Bundle" {
				yield(Doc{}, fmt.Errorf("POST %s: expected a Bundle, got %s", RedactURL(resp.URL), describeType(b.ResourceType)))
				return
			}
			n := 0
			for _, e := range b.Entry {
				if len(e.Resource) == 0 {
					continue
				}
				n++
				d, err := NewDoc(e.Resource)
				if err != nil {
					yield(Doc{}, fmt.Errorf("POST %s: an entry is not a JSON object: %w", RedactURL(resp.URL), err))
					return
				}
				if !yield(d, nil) {
					return
				}
			}
			if b.NextLink() == "" || n == 0 {
				return
			}
			offset += len(b.Entry)
		}
	}
}

// walk GETs rawURL and then each next link that page returns, until page
// returns no next link, asks to stop, or fails. fail gets any error.
func (c *Client) walk(ctx context.Context, rawURL string, page func(u string, body []byte) (next string, more bool, err error), fail func(error)) {
	seen := map[string]bool{}
	for next := rawURL; next != ""; {
		u, err := c.ResolveURL(next)
		if err != nil {
			fail(err)
			return
		}
		if seen[u] {
			fail(fmt.Errorf("the server's next link repeats a page already read: %s", RedactURL(u)))
			return
		}
		seen[u] = true
		resp, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: u})
		if err != nil {
			fail(err)
			return
		}
		var more bool
		next, more, err = page(u, resp.Body)
		if err != nil {
			fail(err)
			return
		}
		next = c.NextOnBase(next)
		if !more {
			return
		}
	}
}

// NextOnBase is a server's next link as the CLI reads it: on the base URL's
// scheme and host when the link is on another but its path holds the FHIR
// path (".../fhir/R4/<rest>" becomes FHIRBaseURL()+"<rest>", query kept),
// else unchanged. Medplum builds links from its configured baseUrl, so a
// server reached by another name (127.0.0.1 for localhost, a proxy) would
// otherwise send page 2 of every search to an address the credentials are
// never sent to, and answer 401.
func (c *Client) NextOnBase(link string) string {
	if link == "" || c.SameOrigin(link) {
		return link
	}
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return link
	}
	marker := "/" + c.fhirPath + "/"
	i := strings.Index(u.EscapedPath(), marker)
	if i < 0 {
		return link
	}
	out := c.fhirStr + u.EscapedPath()[i+len(marker):]
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

func notBundle(u string, err error) error {
	return fmt.Errorf("GET %s: the answer is not a JSON Bundle: %w", RedactURL(u), err)
}

func wrongType(u, t string) error {
	return fmt.Errorf("GET %s: expected a Bundle, got %s", RedactURL(u), describeType(t))
}

// ReadResource GETs one JSON object (a FHIR resource or any JSON answer)
// and decodes it with numbers kept exact.
func (c *Client) ReadResource(ctx context.Context, rawURL string) (Resource, error) {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: rawURL})
	if err != nil {
		return nil, err
	}
	return decodeAnswer(resp)
}

// Me returns GET auth/me for the current credentials.
func (c *Client) Me(ctx context.Context) (*MeResponse, error) {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: "auth/me"})
	if err != nil {
		if s := StatusOf(err); s == http.StatusNotFound || s == http.StatusGone {
			return nil, fmt.Errorf("GET auth/me: %w: %w", err, ErrSignInGone)
		}
		return nil, err
	}
	var me MeResponse
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(&me); err != nil {
		return nil, answerError(resp, err)
	}
	me.Raw = resp.Body
	return &me, nil
}

// ErrSignInGone is auth/me's 410 Gone or 404 Not found: the token still
// authenticates, but 5.0.10's auth/me reads the membership's profile, and
// that user or client was deleted (410, capture 591b) or expunged (404,
// 591c) on the server since the token was issued.
var ErrSignInGone = errors.New("the user or client these credentials sign in as is no longer on the server (deleted)")

// MembershipURL is the admin route of one membership.
func MembershipURL(projectID, membershipID string) string {
	return "admin/projects/" + url.PathEscape(projectID) + "/members/" + url.PathEscape(membershipID)
}

// GetMembership reads a membership through the admin route.
func (c *Client) GetMembership(ctx context.Context, projectID, membershipID string) (Resource, error) {
	if err := needIDs(projectID, membershipID); err != nil {
		return nil, err
	}
	return c.ReadResource(ctx, MembershipURL(projectID, membershipID))
}

// UpdateMembership writes a full membership through the admin route (POST
// admin/projects/:p/members/:id; the route has no PUT or PATCH). m must be
// the whole resource as read, changes applied, unknown fields kept: the
// server replaces the resource with it. It returns the stored membership.
func (c *Client) UpdateMembership(ctx context.Context, projectID string, m Resource) (Doc, error) {
	if m.ResourceType() != "ProjectMembership" {
		return Doc{}, fmt.Errorf("update membership: resourceType must be ProjectMembership, got %s", describeType(m.ResourceType()))
	}
	if err := needIDs(projectID, m.ID()); err != nil {
		return Doc{}, err
	}
	d, err := c.postJSON(ctx, MembershipURL(projectID, m.ID()), m, ContentTypeFHIR)
	if err == nil && d.ResourceType() != "ProjectMembership" {
		return Doc{}, fmt.Errorf("POST %s: expected a ProjectMembership, got %s", MembershipURL(projectID, m.ID()), describeType(d.ResourceType()))
	}
	return d, err
}

// DeleteMembership deletes a membership through the admin route; the User
// stays, project-scoped or not (captures 514-514d). Deleting it again
// answers 410 (see (*Error).IsGone).
func (c *Client) DeleteMembership(ctx context.Context, projectID, membershipID string) error {
	if err := needIDs(projectID, membershipID); err != nil {
		return err
	}
	_, err := c.Do(ctx, &Request{Method: http.MethodDelete, URL: MembershipURL(projectID, membershipID)})
	return err
}

// Invite posts an invite (POST admin/projects/:p/invite) and returns the
// ProjectMembership. body is an *InviteRequest, or the raw JSON ([]byte or
// json.RawMessage) to send as it is. When the membership was created but the
// e-mail failed, the server answers 200 with an error OperationOutcome: that
// comes back as an *Error with IsPartialSuccess true.
func (c *Client) Invite(ctx context.Context, projectID string, body any) (Resource, error) {
	if err := needIDs(projectID); err != nil {
		return nil, err
	}
	d, err := c.postJSON(ctx, "admin/projects/"+url.PathEscape(projectID)+"/invite", body, ContentTypeFHIR)
	if err != nil {
		return nil, err
	}
	m := d.Resource
	if m.ResourceType() != "ProjectMembership" {
		return m, fmt.Errorf("invite: expected a ProjectMembership, got %s", describeType(m.ResourceType()))
	}
	return m, nil
}

// CreateClientApplication posts POST admin/projects/:p/client (body: at least
// {"name": ...}) and returns the ClientApplication, secret included.
func (c *Client) CreateClientApplication(ctx context.Context, projectID string, body any) (Doc, error) {
	if err := needIDs(projectID); err != nil {
		return Doc{}, err
	}
	return c.postJSON(ctx, "admin/projects/"+url.PathEscape(projectID)+"/client", body, ContentTypeFHIR)
}

// BasicAuth is a client id and secret sent as HTTP Basic credentials.
type BasicAuth struct {
	ClientID     string
	ClientSecret string
}

// Token posts a form to the token endpoint, without the Authenticator's
// credentials (basic, if given, is sent as a Basic header) and returns the
// token. An OAuth error answer is an *Error with OAuth set. A
// client-credentials grant with the client's secret is retried like a GET
// (429, 5xx, a dropped connection): asking again only makes another token.
// Other grants spend a one-time code or refresh token, and a signed
// client assertion carries a one-time jti (a server may refuse it again):
// those are sent once.
func (c *Client) Token(ctx context.Context, form url.Values, basic *BasicAuth) (*TokenResponse, error) {
	req := &Request{
		Method:      http.MethodPost,
		URL:         c.tokenURL,
		Body:        []byte(form.Encode()),
		ContentType: ContentTypeForm,
		NoAuth:      true,
		Idempotent:  form.Get("grant_type") == "client_credentials" && !form.Has("client_assertion"),
	}
	if basic != nil {
		hr := http.Request{Header: http.Header{}}
		hr.SetBasicAuth(basic.ClientID, basic.ClientSecret)
		req.Header = hr.Header
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	var tr TokenResponse
	if err := json.Unmarshal(resp.Body, &tr); err != nil {
		return nil, answerError(resp, err)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("the token endpoint answered %d without an access_token", resp.Status)
	}
	return &tr, nil
}

// AuthPost posts JSON to an auth/* endpoint without credentials (login
// stages) and decodes the answer into out (if not nil).
func (c *Client) AuthPost(ctx context.Context, path string, in, out any) error {
	body, err := EncodeBody(in)
	if err != nil {
		return err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, URL: path, Body: body, ContentType: ContentTypeJSON, NoAuth: true})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return answerError(resp, err)
	}
	return nil
}

func (c *Client) postJSON(ctx context.Context, path string, in any, contentType string) (Doc, error) {
	body, err := EncodeBody(in)
	if err != nil {
		return Doc{}, err
	}
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, URL: path, Body: body, ContentType: contentType})
	if err != nil {
		return Doc{}, err
	}
	return decodeDoc(resp)
}

// EncodeBody turns a request value into JSON. []byte and json.RawMessage are
// sent as they are (after checking they are JSON); anything else is encoded
// without HTML escaping.
func EncodeBody(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return []byte("{}"), nil
	case []byte:
		if !json.Valid(b) {
			return nil, fmt.Errorf("request body is not valid JSON")
		}
		return b, nil
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, fmt.Errorf("request body is not valid JSON")
		}
		return b, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the request body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func decodeAnswer(resp *Response) (Resource, error) {
	d, err := decodeDoc(resp)
	return d.Resource, err
}

func decodeDoc(resp *Response) (Doc, error) {
	d, err := NewDoc(resp.Body)
	if err != nil {
		return Doc{}, answerError(resp, err)
	}
	return d, nil
}

// answerError describes a 2xx answer whose body could not be decoded.
func answerError(resp *Response, err error) error {
	ct := resp.ContentType()
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Errorf("%s %s: the server answered %d (%s, %d bytes) that could not be read: %w",
		resp.Method, RedactURL(resp.URL), resp.Status, ct, len(resp.Body), err)
}

func needIDs(ids ...string) error {
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return fmt.Errorf("a project or membership id is empty")
		}
		if strings.ContainsAny(id, "/?#") {
			return fmt.Errorf("id %q must not contain '/', '?' or '#'", id)
		}
	}
	return nil
}

func describeType(t string) string {
	if t == "" {
		return "no resourceType"
	}
	return t
}
