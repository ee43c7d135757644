package medplumtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/client/medplumtest"
)

// BenchmarkInviteConcurrency shows the invite model with the realistic cost:
// goodput (successful invites per second) peaks at 2-3 invites in flight and
// falls beyond, as conflicts (409, coding 40001, retried here) rise.
//
//	go test -run '^$' -bench InviteConcurrency -benchtime 300x ./client/medplumtest
func BenchmarkInviteConcurrency(b *testing.B) {
	for _, workers := range []int{1, 2, 3, 4, 8, 16} {
		b.Run(fmt.Sprintf("inflight=%d", workers), func(b *testing.B) {
			srv := medplumtest.NewServer(b, medplumtest.WithSeed(1),
				medplumtest.WithInviteCost(medplumtest.RealisticInviteParallel, medplumtest.RealisticInviteSerial))
			c := &tc{srv: srv}
			c.tok = tokenFor(b, srv)
			var next, conflicts, ok atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			b.ResetTimer()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						body := fmt.Sprintf(`{"resourceType":"Practitioner","firstName":"U","lastName":"%d","email":"u%d@example.com","sendEmail":false}`, i, i)
						for {
							status := postInvite(b, srv, c.tok, body)
							if status == 200 {
								ok.Add(1)
								break
							}
							if status != 409 {
								b.Errorf("invite: %d", status)
								return
							}
							conflicts.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64(ok.Load())/elapsed.Seconds(), "invites/s")
			b.ReportMetric(100*float64(conflicts.Load())/float64(conflicts.Load()+ok.Load()), "conflict%")
		})
	}
}

func tokenFor(b *testing.B, srv *medplumtest.Server) string {
	resp, err := http.PostForm(srv.URL+"oauth2/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {srv.Seed.Client.ID}, "client_secret": {srv.Seed.Client.Secret},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m["access_token"].(string)
}

func postInvite(b *testing.B, srv *medplumtest.Server, tok, body string) int {
	req, _ := http.NewRequest("POST", srv.URL+"admin/projects/"+srv.Seed.ProjectID+"/invite", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
