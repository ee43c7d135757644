//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of `medplum bulk import` (issue 14), each against a sandbox
// process of its own, started afresh for every op so that every import
// creates everything it sends (the sandbox enforces no FHIR quota unless
// told to: these measure the client and the server's work, not a wait for
// the quota's minute).

// importBenchPatients is how many resources BenchmarkBulkImport imports.
const (
	importBenchPatients    = 50_000
	importBenchConcurrency = 4
	importBenchPerBundle   = 25 // the default --num-resources-per-request
)

// BenchmarkBulkImport: importing 50,000 Patients (an export's NDJSON: each
// with its id, its server meta and an MRN identifier) into an empty
// sandbox project, two ways in turn, each against a fresh sandbox:
//
//	raw      the floor: importBenchConcurrency goroutines of plain net/http
//	         in this process POSTing the very Bundles medplum sends (recorded
//	         once, before the ops, through a proxy: the same 2,000 batch
//	         Bundles of 25 plain creates, byte for byte, with the same
//	         headers), each answer read and decoded, every entry checked to
//	         be 201. The Bundles are built before the op: the floor does not
//	         read the file, nor look the resources up (medplum's search by
//	         identifier before each Bundle, which makes a re-run converge, is
//	         part of what it is measured against the floor for).
//	medplum  the binary: bulk import patients.ndjson --concurrency 4 (the
//	         same concurrency), its per-Bundle lines to /dev/null, a new
//	         journal each op, under GNU time
//
// After each op the sandbox must hold exactly 50,000 more Patients than an
// empty project. Reports the median ms/run, cpu-ms/run and resources/s of
// each, medplum's MB-peak-RSS, and x-raw (medplum's wall time over raw's).
// Run with -benchtime 3x (about half a minute an op).
func BenchmarkBulkImport(b *testing.B) {
	bin, _ := benchBinaries(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs GNU time (/usr/bin/time) for the peak RSS")
	}
	home := b.TempDir()
	input := filepath.Join(home, "patients.ndjson")
	if _, _, err := writeImportInput(input, "", importBenchPatients, 0, 0); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(input)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"bulk", "import", input, "--concurrency", strconv.Itoa(importBenchConcurrency)}

	// The Bundles medplum sends, recorded through a proxy.
	bundles, header := recordImportBundles(b, bin, home, args)
	entries := 0
	for _, body := range bundles {
		var bd struct {
			Type  string
			Entry []struct {
				Request struct{ Method, URL, IfNoneExist string }
			}
		}
		if err := json.Unmarshal(body, &bd); err != nil || bd.Type != "batch" {
			b.Fatalf("a recorded Bundle: %v (type %q)", err, bd.Type)
		}
		for _, e := range bd.Entry {
			if e.Request.Method != "POST" || e.Request.URL != "Patient" || e.Request.IfNoneExist != "" {
				b.Fatalf("a recorded entry is not a plain create of a Patient (the import looks them up first): %+v", e.Request)
			}
		}
		entries += len(bd.Entry)
	}
	if want := importBenchPatients / importBenchPerBundle; len(bundles) != want || entries != importBenchPatients {
		b.Fatalf("medplum sent %d Bundles of %d entries; want %d of %d", len(bundles), entries, want, importBenchPatients)
	}

	var sb *benchSandbox
	stop := func() {}
	defer func() { stop() }()
	base := -1 // Patients in an empty sandbox project
	fresh := func() {
		stop()
		sb, stop = launchSandbox(b, "--invite-cost", "0")
		n := countResources(b, sb, "Patient")
		if base >= 0 && n != base {
			b.Fatalf("a fresh sandbox holds %d Patients, the first held %d", n, base)
		}
		base = n
	}
	check := func(who string) {
		if n := countResources(b, sb, "Patient"); n != base+importBenchPatients {
			b.Fatalf("%s: the sandbox holds %d Patients after the import; want %d + %d", who, n, base, importBenchPatients)
		}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: importBenchConcurrency}}
	var rss []float64
	run := 0
	variants := []benchVariant{
		{name: "raw", prep: fresh, op: inProcess(b, func() {
			if err := rawPostBundles(hc, sb.URL+"fhir/R4", sb.Token, header, bundles, importBenchConcurrency); err != nil {
				b.Fatal(err)
			}
			check("raw")
		})},
		{name: "medplum", prep: fresh, op: func() time.Duration {
			run++
			state := filepath.Join(home, fmt.Sprintf("run-%d.journal", run))
			defer os.Remove(state)
			t := timeProc(b, home, sb.env(home), bin, append(args, "--state", state)...)
			check("medplum")
			rss = append(rss, t.rssMB)
			return t.cpu
		}},
	}
	walls, cpus := timeVariants(b, variants)
	raw := median(walls[0])
	for i, v := range variants {
		w := median(walls[i])
		b.ReportMetric(w, "ms/run:"+v.name)
		b.ReportMetric(median(cpus[i]), "cpu-ms/run:"+v.name)
		b.ReportMetric(importBenchPatients/(w/1000), "resources/s:"+v.name)
		b.ReportMetric(w/raw, "x-raw:"+v.name)
	}
	b.ReportMetric(median(rss), "MB-peak-RSS:medplum")
	b.ReportMetric(float64(fi.Size())/(1<<20), "MB-input:medplum")
}

// BenchmarkBulkImportPeakRSS: the binary importing an export of about
// 100 MB and one of about 1 GB (generated here in a temporary directory,
// removed afterwards): Patients, and four Observations per Patient that
// refer to it, each with a narrative of about 1.5 KB (lines of about
// 2 KB), in two files, into a fresh sandbox, under GNU time. The input is
// read as it is sent, and what is kept per resource (its old id for the line
// check, its key, its old and new ids to rewrite references) is in a file
// next to the journal, so the two peaks should be within a few MB of each
// other: see docs/benchmarks.md. After the import the sandbox must hold
// every resource. Reports ms/run, cpu-ms/run, MB-peak-RSS,
// resources/s, resources and the input's MB. Run with -benchtime 1x.
func BenchmarkBulkImportPeakRSS(b *testing.B) {
	bin, _ := benchBinaries(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs GNU time (/usr/bin/time) for the peak RSS")
	}
	for _, size := range []struct {
		name  string
		bytes int64
	}{{"100MB", 100 << 20}, {"1GB", 1 << 30}} {
		b.Run("input="+size.name, func(b *testing.B) {
			dir := b.TempDir() // removed when the benchmark ends
			patients, observations, err := writeImportInput(filepath.Join(dir, "Patient.ndjson"), filepath.Join(dir, "Observation.ndjson"), 0, size.bytes, 1500)
			if err != nil {
				b.Fatal(err)
			}
			var inBytes int64
			for _, f := range []string{"Patient.ndjson", "Observation.ndjson"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					b.Fatal(err)
				}
				inBytes += fi.Size()
			}
			var wall, cpu, rss []float64
			for range b.N {
				sb, stop := launchSandbox(b, "--invite-cost", "0")
				p0, o0 := countResources(b, sb, "Patient"), countResources(b, sb, "Observation")
				t := timeProc(b, dir, sb.env(dir), bin, "bulk", "import", dir, "-q", "--concurrency", strconv.Itoa(importBenchConcurrency), "--state", filepath.Join(dir, "state.journal"))
				if p, o := countResources(b, sb, "Patient")-p0, countResources(b, sb, "Observation")-o0; p != patients || o != observations {
					b.Fatalf("the sandbox holds %d new Patients and %d new Observations; want %d and %d", p, o, patients, observations)
				}
				stop()
				os.Remove(filepath.Join(dir, "state.journal"))
				wall, cpu, rss = append(wall, ms(t.wall)), append(cpu, ms(t.cpu)), append(rss, t.rssMB)
			}
			n := float64(patients + observations)
			b.ReportMetric(median(wall), "ms/run")
			b.ReportMetric(median(cpu), "cpu-ms/run")
			b.ReportMetric(median(rss), "MB-peak-RSS")
			b.ReportMetric(n/(median(wall)/1000), "resources/s")
			b.ReportMetric(n, "resources")
			b.ReportMetric(float64(inBytes)/(1<<20), "MB-input")
		})
	}
}

// timedProc is one process run under GNU time.
type timedProc struct {
	wall, cpu time.Duration
	rssMB     float64
}

// timeProc runs the binary once under GNU time: wall time as seen here,
// CPU (user + system) and peak RSS as GNU time saw them.
func timeProc(b *testing.B, dir string, env []string, bin string, args ...string) timedProc {
	b.Helper()
	out := filepath.Join(b.TempDir(), "time")
	p := runProc(b, dir, env, "/usr/bin/time", append([]string{"-f", "%e %U %S %M", "-o", out, bin}, args...)...)
	raw, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	var e, u, s, kb float64
	if _, err := fmt.Sscanf(string(raw), "%g %g %g %g", &e, &u, &s, &kb); err != nil {
		b.Fatalf("GNU time wrote %q", raw)
	}
	return timedProc{wall: p.wall, cpu: time.Duration((u + s) * float64(time.Second)), rssMB: kb / 1024}
}

// countResources is how many resources of typ the sandbox's project admin
// sees (_summary=count).
func countResources(b *testing.B, sb *benchSandbox, typ string) int {
	b.Helper()
	req, _ := http.NewRequest("GET", sb.URL+"fhir/R4/"+typ+"?_summary=count", nil)
	req.Header.Set("Authorization", "Bearer "+sb.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var bd struct{ Total *int }
	if err := json.NewDecoder(resp.Body).Decode(&bd); err != nil || resp.StatusCode != 200 || bd.Total == nil {
		b.Fatalf("counting %s: %d %v", typ, resp.StatusCode, err)
	}
	return *bd.Total
}

// writeImportInput writes NDJSON as bulk export writes it. With only
// patients > 0 and no observations file: that many Patients, each with an
// MRN identifier. With an observations file: Patients and four
// Observations per Patient, each Observation referring to its Patient,
// every resource with a narrative of pad bytes and no identifier (the
// import keys them on their old ids), until the two files hold size bytes.
func writeImportInput(patientsFile, observationsFile string, patients int, size int64, pad int) (np, no int, err error) {
	pf, err := os.Create(patientsFile)
	if err != nil {
		return 0, 0, err
	}
	defer pf.Close()
	pw := bufio.NewWriterSize(pf, 1<<20)
	var ow *bufio.Writer
	if observationsFile != "" {
		of, err := os.Create(observationsFile)
		if err != nil {
			return 0, 0, err
		}
		defer of.Close()
		ow = bufio.NewWriterSize(of, 1<<20)
	}
	narrative := strings.Repeat("x", pad)
	id := func(kind, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }
	meta := `"meta":{"versionId":"` + id(9, 1) + `","lastUpdated":"2026-11-30T10:00:00.000Z","project":"` + id(8, 1) + `"}`
	var written int64
	for n := 1; ; n++ {
		if observationsFile == "" && n > patients || observationsFile != "" && written >= size {
			break
		}
		var line string
		if observationsFile == "" {
			line = fmt.Sprintf(`{"resourceType":"Patient","id":"%s",%s,"identifier":[{"system":"http://example.org/mrn","value":"MRN-%07d"}],"name":[{"given":["Given%d"],"family":"Family%d"}],"gender":"female","birthDate":"1970-01-%02d","telecom":[{"system":"phone","value":"555-%07d"}]}`+"\n",
				id(1, n), meta, n, n, n, n%28+1, n)
		} else {
			line = fmt.Sprintf(`{"resourceType":"Patient","id":"%s",%s,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"},"name":[{"given":["Given%d"],"family":"Family%d"}],"gender":"male","birthDate":"1980-02-%02d"}`+"\n",
				id(1, n), meta, narrative, n, n, n%28+1)
		}
		if _, err := pw.WriteString(line); err != nil {
			return 0, 0, err
		}
		written += int64(len(line))
		np++
		if ow == nil {
			continue
		}
		for k := range 4 {
			o := fmt.Sprintf(`{"resourceType":"Observation","id":"%s",%s,"status":"final","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"},"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-%02dT10:00:00Z","valueQuantity":{"value":%d,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`+"\n",
				id(2, 4*n+k), meta, narrative, id(1, n), k+1, 60+n%40)
			if _, err := ow.WriteString(o); err != nil {
				return 0, 0, err
			}
			written += int64(len(o))
			no++
		}
	}
	if err := pw.Flush(); err != nil {
		return 0, 0, err
	}
	if ow != nil {
		if err := ow.Flush(); err != nil {
			return 0, 0, err
		}
	}
	return np, no, nil
}

// recordImportBundles runs the import once against a fresh sandbox through
// a proxy that forwards everything and keeps the body of every batch POST
// and the headers of the first; then checks the sandbox holds every
// Patient.
func recordImportBundles(b *testing.B, bin, home string, args []string) (bundles [][]byte, header http.Header) {
	b.Helper()
	sb, stop := launchSandbox(b, "--invite-cost", "0")
	defer stop()
	base := countResources(b, sb, "Patient")
	target := strings.TrimSuffix(sb.URL, "/")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && strings.TrimSuffix(r.URL.Path, "/") == "/fhir/R4" {
			mu.Lock()
			bundles = append(bundles, body)
			if header == nil {
				header = r.Header.Clone()
			}
			mu.Unlock()
		}
		req, _ := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	env := sb.env(home)
	for i, kv := range env {
		if strings.HasPrefix(kv, "MEDPLUM_BASE_URL=") {
			env[i] = "MEDPLUM_BASE_URL=" + proxy.URL + "/"
		}
	}
	state := filepath.Join(home, "record.journal")
	defer os.Remove(state)
	runProc(b, home, env, bin, append(args, "-q", "--state", state)...)
	if n := countResources(b, sb, "Patient"); n != base+importBenchPatients {
		b.Fatalf("the recorded import left %d Patients; want %d + %d", n, base, importBenchPatients)
	}
	return bundles, header
}

// rawPostBundles POSTs every Bundle with conc goroutines of plain net/http,
// the recorded headers and token, reads and decodes each answer, and
// checks that every entry was created (201).
func rawPostBundles(hc *http.Client, u, token string, header http.Header, bundles [][]byte, conc int) error {
	var next atomic.Int64
	errs := make(chan error, conc)
	for range conc {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bundles) {
					errs <- nil
					return
				}
				req, _ := http.NewRequest("POST", u, bytes.NewReader(bundles[i]))
				req.Header = header.Clone()
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("Bundle %d: %d %v", i, resp.StatusCode, err)
					return
				}
				var bd struct {
					Entry []struct {
						Response struct{ Status, Location string }
					}
				}
				if err := json.Unmarshal(body, &bd); err != nil || len(bd.Entry) != importBenchPerBundle {
					errs <- fmt.Errorf("Bundle %d: %d entries answered, %v", i, len(bd.Entry), err)
					return
				}
				for _, e := range bd.Entry {
					if e.Response.Status != "201" || e.Response.Location == "" {
						errs <- fmt.Errorf("Bundle %d: an entry answered %q", i, e.Response.Status)
						return
					}
				}
			}
		}()
	}
	var first error
	for range conc {
		if err := <-errs; err != nil && first == nil {
			first = err
			next.Store(int64(len(bundles))) // the others stop after their Bundle
		}
	}
	return first
}
