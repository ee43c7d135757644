package rest

import (
	"context"
	"net/http"

	"github.com/medplumcli/medplum/client"
)

// patchMembership makes `patch admin/projects/<p>/members/<m>` work although
// the server has no PATCH route there: it reads the membership, applies the
// patch locally and POSTs the whole result back, which is the route's
// documented update. Nothing is written if the patch touches a protected
// field or does not apply. With --dry-run the membership is still read (a
// GET changes nothing) so the POST shown is the one that would be sent.
func patchMembership(ctx context.Context, opts *Options, c *client.Client, route string, p jsonPatch, name string) error {
	if err := checkProtected(p, name); err != nil {
		return err
	}
	resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: route})
	if err != nil {
		return err
	}
	updated, err := applyToMembership(p, resp.Body)
	if err != nil {
		return err
	}
	return send(ctx, opts, c, &client.Request{Method: http.MethodPost, URL: route, Body: updated})
}
