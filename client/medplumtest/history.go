package medplumtest

import (
	"fmt"
	"strconv"
	"time"
)

// The history of one resource (GET fhir/R4/:type/:id/_history,
// fhir-router's readHistory and Repository.readHistory): every version,
// newest first, _count of them (default 100, at most 1000) from _offset,
// and the total; no links. A deletion is an entry without a resource,
// answered 410 with the time it happened. The history of a deleted
// resource can still be read; one that never existed (or is another
// project's) is 404. Captures 174, 175 (without X-Medplum: extended: no
// meta.author), 300 (with it), 301 (_count and _offset), 302 (after a
// deletion).

const (
	historyCount    = 100
	maxHistoryCount = 1000
)

func (s *Server) fhirHistory(c *reqCtx) {
	if !c.charge(pointsRead) {
		return
	}
	typ, ok := c.fhirType()
	if !ok {
		return
	}
	if !c.auth.canAccessType(typ) {
		c.sendOutcome(forbidden())
		return
	}
	q := c.r.URL.Query()
	count, offset := historyCount, 0
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.sendOutcome(badRequest(fmt.Sprintf("Invalid _count: %s", v)))
			return
		}
		count = min(max(n, 0), maxHistoryCount)
	}
	if v := q.Get("_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.sendOutcome(badRequest(fmt.Sprintf("Invalid _offset: %s", v)))
			return
		}
		if n > maxOffset {
			c.sendOutcome(badRequest(fmt.Sprintf("Search offset exceeds maximum (got %d, max %d)", n, maxOffset)))
			return
		}
		offset = max(n, 0)
	}
	id := c.params["id"]
	s.mu.Lock()
	rec := s.st.get(typ, id)
	if rec == nil || !c.auth.visible(rec) {
		s.mu.Unlock()
		c.sendOutcome(notFound())
		return
	}
	full := s.baseURL(c.r) + "fhir/R4/" + typ + "/" + id
	entries := []any{}
	for i := len(rec.history) - 1 - offset; i >= 0 && len(entries) < count; i-- {
		v := rec.history[i]
		e := map[string]any{"fullUrl": full}
		if v.res == nil {
			e["request"] = map[string]any{"method": "GET", "url": typ + "/" + id + "/_history/" + v.vid}
			e["response"] = map[string]any{"status": "410", "outcome": outcome("gone", "error", "deleted", "Deleted on "+jsDate(v.at))}
		} else {
			vid, _ := v.res["meta"].(map[string]any)["versionId"].(string)
			e["request"] = map[string]any{"method": "GET", "url": typ + "/" + id + "/_history/" + vid}
			e["response"] = map[string]any{"status": "200", "outcome": allOk()}
			e["resource"] = presentResource(v.res, c.extended())
		}
		entries = append(entries, e)
	}
	total := len(rec.history)
	s.mu.Unlock()
	c.fhir(200, map[string]any{"resourceType": "Bundle", "type": "history", "entry": entries, "total": total})
}

// jsDate writes a time as JavaScript's Date.prototype.toString does on a
// server in UTC, which Medplum's "Deleted on ..." uses.
func jsDate(t time.Time) string {
	return t.UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (Coordinated Universal Time)"
}
