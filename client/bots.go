package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Bots and Binary content (captures 100-124).

// CreateBot posts POST admin/projects/:p/bot (body: at least {"name": ...})
// and returns the Bot. The server creates it in the caller's own project,
// whatever projectID says, with a default index.ts source and the bot's
// ProjectMembership.
func (c *Client) CreateBot(ctx context.Context, projectID string, body any) (Doc, error) {
	if err := needIDs(projectID); err != nil {
		return Doc{}, err
	}
	d, err := c.postJSON(ctx, "admin/projects/"+url.PathEscape(projectID)+"/bot", body, ContentTypeJSON)
	if err != nil {
		return Doc{}, err
	}
	if d.ResourceType() != "Bot" {
		return d, fmt.Errorf("create bot: expected a Bot, got %s", describeType(d.ResourceType()))
	}
	return d, nil
}

// CreateBinary uploads data as a Binary (POST Binary?_filename=) and returns
// the Binary resource (its "url" is a presigned link to the content).
func (c *Client) CreateBinary(ctx context.Context, data []byte, contentType, filename string) (Doc, error) {
	u := "Binary"
	if filename != "" {
		u += "?_filename=" + url.QueryEscape(filename)
	}
	if data == nil {
		data = []byte{}
	}
	// Idempotent: an upload repeated after a 429 or a lost answer leaves
	// one more Binary, which nothing points at; that is harmless.
	resp, err := c.Do(ctx, &Request{Method: http.MethodPost, URL: u, Body: data, ContentType: contentType, Idempotent: true})
	if err != nil {
		return Doc{}, err
	}
	d, err := decodeDoc(resp)
	if err != nil {
		return Doc{}, err
	}
	if d.ResourceType() != "Binary" || d.ID() == "" {
		return d, fmt.Errorf("upload: expected a Binary, got %s", describeType(d.ResourceType()))
	}
	return d, nil
}

// ReadAttachment reads the content an attachment URL names: a presigned
// storage URL as the server answers it (fetched as it is; credentials go
// only to the server's own host), or "Binary/<id>" (read with an Accept
// that asks for the content rather than the resource).
func (c *Client) ReadAttachment(ctx context.Context, attachmentURL string) ([]byte, error) {
	req := &Request{URL: attachmentURL, Accept: "*/*"}
	if strings.HasPrefix(attachmentURL, "http://") || strings.HasPrefix(attachmentURL, "https://") {
		// A presigned URL carries its own authorization.
		req.NoAuth = true
	} else if _, _, ok := SplitReference(attachmentURL); !ok || !strings.HasPrefix(attachmentURL, "Binary/") {
		return nil, fmt.Errorf("attachment URL %q names no Binary", attachmentURL)
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// DeployBody is the JSON body DeployBot sends: its size is what the
// server's maxJsonSize limits.
func DeployBody(code []byte, filename string) ([]byte, error) {
	return EncodeBody(map[string]string{"code": string(code), "filename": filename})
}

// DeployBot runs Bot/:id/$deploy with the code and its file name. An answer
// other than 2xx (400 "Bots not enabled", "Bot missing executable code") is
// an *Error.
func (c *Client) DeployBot(ctx context.Context, botID string, code []byte, filename string) error {
	if err := needIDs(botID); err != nil {
		return err
	}
	body, err := DeployBody(code, filename)
	if err != nil {
		return err
	}
	// Idempotent: deploying the same code again gives the same result, so
	// a 429 (Medplum's fhirInteractions quota: a deploy by pattern can reach
	// it) is waited out and retried like a GET.
	_, err = c.Do(ctx, &Request{Method: http.MethodPost, URL: ResourceURL("Bot", botID) + "/$deploy", Body: body, Idempotent: true})
	return err
}

// ExecuteBot runs Bot/:id/$execute with input sent as contentType and
// returns the answer as the server sent it (the bot's return value, in the
// request's content type). A bot that failed is an *Error (400, the
// message in an OperationOutcome).
func (c *Client) ExecuteBot(ctx context.Context, botID string, input []byte, contentType string) (*Response, error) {
	if err := needIDs(botID); err != nil {
		return nil, err
	}
	if input == nil {
		input = []byte{}
	}
	return c.Do(ctx, &Request{Method: http.MethodPost, URL: ResourceURL("Bot", botID) + "/$execute", Body: input, ContentType: contentType, Accept: "*/*"})
}
