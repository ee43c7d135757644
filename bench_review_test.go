//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client"
)

// BenchmarkMembersReview: `medplum members review` of a project of 10,000
// and 50,000 memberships (the sandbox's generated members, in its own
// process), against the practical limit: the same searches sent by a plain
// net/http loop in this process, one after the other, decoding only the
// references it needs. The searches (what the review sends, as a project
// admin):
//
//	the Project; its AccessPolicy, ClientApplication and Bot searches; the
//	history of each client application; the memberships, 1000 a page by
//	cursor (_sort=_lastUpdated, past Medplum's 10,000 offset limit); and for
//	each page, POSTed: the Users it names by _id, their
//	UserSecurityRequests by user, and its profiles by _id
//
// One op runs each variant once, in turn:
//
//	raw      the loop above (wall and CPU of this process)
//	medplum  the binary: members review -o ndjson to /dev/null, under GNU
//	         time (wall, CPU, peak RSS)
//
// The review prints each member as its page is judged: its peak RSS must
// stay flat from 10k to 50k members. Reports the median ms/run and
// cpu-ms/run of each, results (members the binary printed) and the
// binary's MB-peak-RSS. Run with -benchtime 1x.
func BenchmarkMembersReview(b *testing.B) {
	bin, _ := benchBinaries(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs GNU time (/usr/bin/time) for the peak RSS")
	}
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("members=%dk", n/1000), func(b *testing.B) {
			sb := startSandbox(b, "--members", strconv.Itoa(n-4), "--invite-cost", "0")
			home := b.TempDir()
			env := sb.env(home)
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			raw := &rawReviewer{hc: hc, base: sb.URL, token: sb.Token, project: sb.Project}
			ctx := context.Background()

			// Once, outside the timing: both see every member.
			if got, err := raw.run(ctx); err != nil || got != n {
				b.Fatalf("raw: %d of %d members: %v", got, n, err)
			}
			var out bytes.Buffer
			cmd := exec.Command(bin, "members", "review", "-o", "ndjson")
			cmd.Dir, cmd.Env, cmd.Stdout = home, env, &out
			if err := cmd.Run(); err != nil {
				b.Fatalf("members review: %v", err)
			}
			if got := bytes.Count(out.Bytes(), []byte(`"record":"member"`)); got != n {
				b.Fatalf("members review printed %d of %d members", got, n)
			}

			var rawWall, rawCPU, rawSrv, wall, cpu, srv, rss []float64
			b.ResetTimer()
			for range b.N {
				cpu0, srv0, t0 := selfCPU(b), procCPU(b, sb.Pid), time.Now()
				if _, err := raw.run(ctx); err != nil {
					b.Fatal(err)
				}
				rawWall, rawCPU = append(rawWall, ms(time.Since(t0))), append(rawCPU, ms(selfCPU(b)-cpu0))
				rawSrv = append(rawSrv, ms(procCPU(b, sb.Pid)-srv0))

				srv0 = procCPU(b, sb.Pid)
				t := timeProc(b, home, env, bin, "members", "review", "-o", "ndjson")
				wall, cpu, rss = append(wall, ms(t.wall)), append(cpu, ms(t.cpu)), append(rss, t.rssMB)
				srv = append(srv, ms(procCPU(b, sb.Pid)-srv0))
			}
			b.StopTimer()
			b.ReportMetric(median(rawWall), "ms/run:raw")
			b.ReportMetric(median(rawCPU), "cpu-ms/run:raw")
			b.ReportMetric(median(wall), "ms/run:medplum")
			b.ReportMetric(median(cpu), "cpu-ms/run:medplum")
			b.ReportMetric(median(rss), "MB-peak-RSS:medplum")
			b.ReportMetric(median(rawSrv), "server-cpu-ms/run:raw")
			b.ReportMetric(median(srv), "server-cpu-ms/run:medplum")
			b.ReportMetric(float64(n), "results:medplum")
		})
	}
}

// rawReviewer sends the review's searches with nothing but net/http.
type rawReviewer struct {
	hc                   *http.Client
	base, token, project string
	requests             int
}

// rawBundle is what the loop reads of a search answer.
type rawBundle struct {
	Entry []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			User         struct {
				Reference string `json:"reference"`
			} `json:"user"`
			Profile struct {
				Reference string `json:"reference"`
			} `json:"profile"`
		} `json:"resource"`
	} `json:"entry"`
	Link []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
}

func (r *rawReviewer) do(ctx context.Context, method, u string, form url.Values) (*rawBundle, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if !strings.HasPrefix(u, "http") {
		u = r.base + "fhir/R4/" + u
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("X-Medplum", "extended")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %v", method, u, resp.StatusCode, err)
	}
	r.requests++
	var bd rawBundle
	return &bd, json.Unmarshal(raw, &bd)
}

func (b *rawBundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// run sends the searches and returns the number of memberships read.
func (r *rawReviewer) run(ctx context.Context) (int, error) {
	r.requests = 0
	if _, err := r.do(ctx, http.MethodGet, "Project/"+r.project, nil); err != nil {
		return 0, err
	}
	small := func(typ, elements string) (*rawBundle, error) {
		q := url.Values{"_count": {"1000"}, "_sort": {"_lastUpdated"}}
		if elements != "" {
			q.Set("_elements", elements)
		}
		return r.do(ctx, http.MethodGet, typ+"?"+client.ProjectSearch(r.project)+"&"+q.Encode(), nil)
	}
	if _, err := small("AccessPolicy", "name"); err != nil {
		return 0, err
	}
	clients, err := small("ClientApplication", "")
	if err != nil {
		return 0, err
	}
	if _, err := small("Bot", "name"); err != nil {
		return 0, err
	}
	for _, c := range clients.Entry {
		if _, err := r.do(ctx, http.MethodGet, "ClientApplication/"+c.Resource.ID+"/_history?_count=100&_offset=0", nil); err != nil {
			return 0, err
		}
	}
	members := 0
	next := "ProjectMembership?" + url.Values{"project": {"Project/" + r.project}, "_sort": {"_lastUpdated"}, "_count": {"1000"}}.Encode()
	for next != "" {
		page, err := r.do(ctx, http.MethodGet, next, nil)
		if err != nil {
			return members, err
		}
		var users, userRefs []string
		profiles := map[string][]string{}
		for _, e := range page.Entry {
			members++
			if u := e.Resource.User.Reference; strings.HasPrefix(u, "User/") {
				users, userRefs = append(users, strings.TrimPrefix(u, "User/")), append(userRefs, u)
			}
			if t, id, ok := strings.Cut(e.Resource.Profile.Reference, "/"); ok && (t == "Practitioner" || t == "Patient" || t == "RelatedPerson") {
				profiles[t] = append(profiles[t], id)
			}
		}
		if len(users) > 0 {
			if _, err := r.do(ctx, http.MethodPost, "User/_search", url.Values{"_id": {strings.Join(users, ",")}, "_count": {strconv.Itoa(len(users))}}); err != nil {
				return members, err
			}
			if _, err := r.do(ctx, http.MethodPost, "UserSecurityRequest/_search", url.Values{"user": {strings.Join(userRefs, ",")}, "_count": {"1000"}}); err != nil {
				return members, err
			}
		}
		for t, ids := range profiles {
			form := url.Values{"_id": {strings.Join(ids, ",")}, "_elements": {"id"}, "_count": {strconv.Itoa(len(ids))}, "_project": {"Project/" + r.project}}
			if _, err := r.do(ctx, http.MethodPost, t+"/_search", form); err != nil {
				return members, err
			}
		}
		next = page.next()
	}
	return members, nil
}

// procCPU is the CPU time (user + system) a process has used so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
