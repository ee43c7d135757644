package cmdutil_test

import (
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

func TestRateLimited(t *testing.T) {
	diag := func(d string) *client.Error {
		return &client.Error{Status: 429, Outcome: &client.OperationOutcome{Issue: []client.OutcomeIssue{{Diagnostics: d}}}}
	}
	for _, c := range []struct {
		err  *client.Error
		want string
	}{
		{&client.Error{Status: 429, RateLimitWait: 42 * time.Second}, "try again in 42 seconds"},
		{&client.Error{Status: 429, RateLimitWait: 300 * time.Millisecond}, "try again in 1 second"},
		{diag(`{"remainingPoints":0,"msBeforeNext":41234,"consumedPoints":61}`), "try again in 42 seconds"},
		{diag(`not json`), "try again in a minute"},
		{&client.Error{Status: 429, Message: "Too many requests"}, "try again in a minute"},
	} {
		if got := cmdutil.RateLimited(c.err); got != "the server is rate limiting requests: "+c.want {
			t.Errorf("%+v: %q", c.err, got)
		}
	}
}
