package bulk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// BenchmarkBulkInvite measures invites per second against medplumtest with
// the realistic model of a Medplum 5.0.10 server (a per-invite cost, half of
// it serialized per project, and serialization conflicts that grow with the
// invites in flight: 21% at 4, 50% at 8, 72% at 16), at fixed concurrency
// levels and adaptive. One op is one row. Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench BulkInvite -benchtime 300x ./commands/invite/bulk/
//
// Reported: invites/s (rows finished per second), conflicts/row (409/40001
// answers per row) and limit (the concurrency at the end, for adaptive).
func BenchmarkBulkInvite(b *testing.B) {
	for _, conc := range []int{1, 2, 3, 4, 8, 16, 0} {
		name := fmt.Sprintf("concurrency=%d", conc)
		if conc == 0 {
			name = "adaptive"
		}
		b.Run(name, func(b *testing.B) {
			srv := medplumtest.NewServer(b, medplumtest.WithSeed(42),
				medplumtest.WithInviteCost(medplumtest.RealisticInviteParallel, medplumtest.RealisticInviteSerial))
			c, err := client.New(client.Options{BaseURL: srv.URL, Auth: &auth.BearerToken{Token: srv.IssueToken(srv.Seed.Client.MembershipID)}})
			if err != nil {
				b.Fatal(err)
			}
			data := csvRows(b.N, "Practitioner")
			check, err := Check(strings.NewReader(data), Options{})
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "users.csv.journal")
			j, resume, err := OpenJournal(path, JournalKey{Input: check.DigestString(), Server: srv.URL, Project: srv.Seed.ProjectID})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			b.ResetTimer()
			st, err := Run(context.Background(), strings.NewReader(data), RunConfig{
				Client: c, Project: srv.Seed.ProjectID, Check: check, Journal: j, Resume: resume, Concurrency: conc,
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if st.Counts[Created] != b.N {
				b.Fatalf("%d of %d rows created: %v", st.Counts[Created], b.N, st.Counts)
			}
			if n := len(srv.Memberships(srv.Seed.ProjectID)); n != b.N+4 {
				b.Fatalf("%d memberships for %d rows", n, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
			b.ReportMetric(float64(st.Conflicts)/float64(b.N), "conflicts/row")
			b.ReportMetric(float64(st.Limit), "limit")
			os.Remove(path)
		})
	}
}
