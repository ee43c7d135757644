package bulk

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/membership"
)

// Mark is the newest state of the project's memberships, read before rows
// are sent. It tells whether a membership found after a lost answer existed
// before the row's invite, without comparing the clocks of this machine and
// the server: a membership that existed when the mark was read cannot be
// newer (meta.lastUpdated) than the newest membership the server had then,
// while one that a later invite made is written after it.
type Mark struct {
	// LastUpdated is the newest membership's meta.lastUpdated, as the
	// server wrote it; "" when the project had no membership at all.
	LastUpdated string `json:"lastUpdated,omitempty"`
	// IDs are the memberships with that lastUpdated (normally one).
	IDs []string `json:"ids,omitempty"`
	// Complete says IDs lists every membership with that lastUpdated (or
	// that the project had none): fewer than a page of them came back.
	Complete bool `json:"complete,omitempty"`
}

// markPage is how many of the newest memberships a mark reads.
const markPage = 20

// readMark reads the project's newest memberships.
func readMark(ctx context.Context, c *client.Client, project string) (*Mark, error) {
	q := url.Values{
		"project": {"Project/" + project},
		"_sort":   {"-_lastUpdated"},
		"_count":  {strconv.Itoa(markPage)},
	}
	var stamps []time.Time
	var raws, ids []string
	for d, err := range membership.Search(ctx, c, "ProjectMembership", q, markPage) {
		if err != nil {
			return nil, err
		}
		raw, t, err := lastUpdated(d.Resource)
		if err != nil {
			return nil, fmt.Errorf("membership %s: %w", d.Resource.ID(), err)
		}
		if n := len(stamps); n > 0 && t.After(stamps[n-1]) {
			// Not the newest first: the server did not sort, and a page
			// would not show the newest membership.
			return nil, fmt.Errorf("the server did not sort memberships by _lastUpdated")
		}
		stamps, raws, ids = append(stamps, t), append(raws, raw), append(ids, d.Resource.ID())
	}
	m := &Mark{Complete: true}
	if len(stamps) == 0 {
		return m, nil
	}
	m.LastUpdated = raws[0]
	ties := 0
	for ties < len(stamps) && stamps[ties].Equal(stamps[0]) {
		ties++
	}
	m.IDs = ids[:ties]
	m.Complete = ties < len(stamps) || len(stamps) < markPage
	return m, nil
}

// lastUpdated returns a resource's meta.lastUpdated, as written and parsed.
func lastUpdated(r client.Resource) (string, time.Time, error) {
	meta, _ := r["meta"].(map[string]any)
	s, _ := meta["lastUpdated"].(string)
	t, err := parseInstant(s)
	return s, t, err
}

func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("meta.lastUpdated %q: not an instant", s)
	}
	return t, nil
}

// verdict is what a mark says of a membership found after a lost answer.
type verdict int

const (
	unknown verdict = iota // it cannot be told
	before                 // it existed when the mark was read
	after                  // it was made (or changed) after the mark was read
)

// judge tells whether membership m existed when the mark was read. A nil
// mark (it could not be read, or a journal of an older medplum) tells
// nothing.
func (mk *Mark) judge(m client.Resource) verdict {
	if mk == nil {
		return unknown
	}
	_, t, err := lastUpdated(m)
	if err != nil {
		return unknown
	}
	if mk.LastUpdated == "" {
		if mk.Complete { // the project had no membership at all
			return after
		}
		return unknown
	}
	newest, err := parseInstant(mk.LastUpdated)
	switch {
	case err != nil:
		return unknown
	case t.Before(newest):
		return before
	case t.After(newest):
		return after
	case slices.Contains(mk.IDs, m.ID()):
		return before
	case mk.Complete: // the same millisecond, but not among those then
		return after
	}
	return unknown
}
