package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Download sends req once (no retries: the caller decides, knowing what it
// already wrote) and streams a 2xx answer's body into w, without holding
// it in memory. It returns the bytes written. An answer other than 2xx is
// read whole and returned as an *Error; a body cut short (a dropped
// connection, a pause of the whole timeout) is an error after the bytes
// that did arrive were written. Credentials are added as Do adds them
// (same origin, unless NoAuth); after a 401 on a request that carried
// them, nothing is refreshed: Do that first.
func (c *Client) Download(ctx context.Context, req *Request, w io.Writer) (int64, error) {
	u, err := c.ResolveURL(req.URL)
	if err != nil {
		return 0, err
	}
	dl := newDeadline(ctx, c.timeout)
	defer dl.done()
	hr, err := c.newHTTPRequest(dl.ctx, req, u)
	if err != nil {
		return 0, err
	}
	if c.auth != nil && !req.NoAuth && c.SameOrigin(u) {
		if err := c.auth.Apply(ctx, hr); err != nil {
			return 0, err
		}
	}
	c.traceRequest(hr, req)
	t0 := time.Now()
	dl.start()
	hresp, err := c.hc.Do(hr)
	dl.gotHeaders()
	if err != nil {
		return 0, c.downloadError(ctx, dl, hr.Method, u, err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode < 200 || hresp.StatusCode >= 300 {
		body, _ := readBody(dl.body(hresp.Body), hresp.ContentLength)
		resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body, Method: hr.Method, URL: u, Duration: time.Since(t0)}
		c.traceResponse(resp)
		return 0, newError(resp.Status, hr.Method, RedactURL(u), resp.Header, body)
	}
	n, err := io.Copy(w, dl.body(hresp.Body))
	if err == nil && hresp.ContentLength >= 0 && n != hresp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, c.downloadError(ctx, dl, hr.Method, u, err)
	}
	c.tracef("< %d %s (%d bytes streamed, %s) %s%s", hresp.StatusCode, http.StatusText(hresp.StatusCode),
		n, roundDur(time.Since(t0)), RedactURL(u), formatHeaders(hresp.Header))
	return n, nil
}

func (c *Client) downloadError(ctx context.Context, dl *deadline, method, u string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if te := dl.timedOut(method, u, c.base); te != nil {
		err = te
	} else if _, ok := err.(*url.Error); !ok {
		err = &url.Error{Op: method, URL: u, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if ue, ok := err.(*url.Error); ok {
		ue.URL = RedactURL(ue.URL) // a presigned URL's signature is a credential
	}
	c.tracef("! %s %s: %s", method, RedactURL(u), causeText(err))
	return err
}
