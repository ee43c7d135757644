package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkDo measures one GET through Do over loopback: URL resolution,
// headers, credentials, the round trip and reading the body.
func BenchmarkDo(b *testing.B) {
	body := []byte(`{"resourceType":"Patient","id":"p1","name":[{"given":["Homer"],"family":"Simpson"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	defer srv.Close()
	for _, traced := range []bool{false, true} {
		b.Run(fmt.Sprintf("trace=%v", traced), func(b *testing.B) {
			opts := Options{BaseURL: srv.URL, Auth: &staticAuth{token: "bench-token"}}
			if traced {
				opts.Trace = func(string) {}
			}
			c, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			req := &Request{URL: "Patient/p1"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Do(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSearch reads 5,000 ProjectMemberships in pages of 1,000 (the
// shape of `get --all` on a large project) and decodes every entry.
func BenchmarkSearch(b *testing.B) {
	const total, size = 5000, 1000
	pages := map[int][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.Atoi(r.URL.Query().Get("_offset"))
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(pages[off])
	}))
	defer srv.Close()
	for off := 0; off < total; off += size {
		var sb strings.Builder
		sb.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
		for i := off; i < off+size; i++ {
			if i > off {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"fullUrl":"%s/fhir/R4/ProjectMembership/m%d","search":{"mode":"match"},"resource":{"resourceType":"ProjectMembership","id":"m%d","project":{"reference":"Project/p","display":"Bench"},"user":{"reference":"User/u%d","display":"member%04d@example.com"},"profile":{"reference":"Practitioner/pr%d","display":"Member %d"},"meta":{"versionId":"v1","lastUpdated":"2026-11-27T07:05:55.937Z"}}}`, srv.URL, i, i, i, i, i, i)
		}
		sb.WriteString(`],"link":[{"relation":"self","url":"x"}`)
		if off+size < total {
			fmt.Fprintf(&sb, `,{"relation":"next","url":"%s/fhir/R4/ProjectMembership?_count=%d&_offset=%d"}`, srv.URL, size, off+size)
		}
		sb.WriteString(`]}`)
		pages[off] = []byte(sb.String())
	}
	c, err := New(Options{BaseURL: srv.URL, Auth: &staticAuth{token: "bench-token"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var bytes int64
	for _, p := range pages {
		bytes += int64(len(p))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for r, err := range c.Search(ctx, "ProjectMembership?_count=1000") {
			if err != nil {
				b.Fatal(err)
			}
			if r.ID() == "" {
				b.Fatal("entry without id")
			}
			n++
		}
		if n != total {
			b.Fatalf("%d resources", n)
		}
	}
	b.ReportMetric(float64(total), "resources/op")
}

// BenchmarkDoConcurrent sends GETs from 8 goroutines at once over loopback,
// as bulk invite does, and reports the connections the server saw opened
// per 1,000 requests (0 once every goroutine has a kept-alive connection).
func BenchmarkDoConcurrent(b *testing.B) {
	body := []byte(`{"resourceType":"Patient","id":"p1"}`)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Auth: &staticAuth{token: "bench-token"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetParallelism(8) // 8 goroutines per GOMAXPROCS
	b.ReportAllocs()
	conns.Store(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := &Request{URL: "Patient/p1"}
		for pb.Next() {
			if _, err := c.Do(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(conns.Load())*1000/float64(b.N), "conns/1k-req")
}

// chunked reads at most 32 KiB at a time, as a socket does.
type chunked struct{ r *strings.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), 32<<10)]) }

// BenchmarkReadBody reads a 780 KB body (one page of get --all) with and
// without a Content-Length, against io.ReadAll.
func BenchmarkReadBody(b *testing.B) {
	body := strings.Repeat("x", 780_000)
	for _, c := range []struct {
		name string
		read func(io.Reader, int64) ([]byte, error)
		cl   int64
	}{
		{"readBody/content-length", readBody, int64(len(body))},
		{"readBody/chunked", readBody, -1},
		{"io.ReadAll", func(r io.Reader, _ int64) ([]byte, error) { return io.ReadAll(r) }, int64(len(body))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if got, err := c.read(chunked{strings.NewReader(body)}, c.cl); err != nil || len(got) != len(body) {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
