package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
)

// file is one output file of the export.
type file struct {
	typ, url, path string
	size           int64
	fresh          bool // downloaded by this run
}

// download fetches the manifest's files that are not in dir yet, Concurrency
// at a time, each streamed to a temporary name (0600) and renamed when
// complete: a file under its final name is whole. A failed download is
// retried as the bulk engine classifies its error (dropped connections,
// 5xx, 429 with the server's wait); the others go on meanwhile. Each
// finished file is printed on stdout as the official CLI prints it.
func (o *ExportOptions) download(c *client.Client, dir string, m *manifest, prog *progressLine) ([]*file, error) {
	files := make([]*file, 0, len(m.Output))
	var todo []*file
	for _, out := range m.Output {
		p, err := filepath.Abs(filepath.Join(dir, FileName(out.Type, out.URL)))
		if err != nil {
			return nil, err
		}
		f := &file{typ: out.Type, url: out.URL, path: p}
		files = append(files, f)
		if fi, err := os.Stat(p); err == nil {
			f.size = fi.Size()
			continue
		}
		// A temporary file left by a run that was killed (kill -9, a
		// crash) is never finished: the file starts over.
		if parts, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".*")); len(parts) > 0 {
			for _, x := range parts {
				os.Remove(x)
			}
		}
		todo = append(todo, f)
	}
	var (
		done, bytes atomic.Int64
		mu          sync.Mutex
		firstErr    error
		wg          sync.WaitGroup
	)
	ctx, stop := context.WithCancel(o.Ctx)
	defer stop()
	show := func() {
		prog.set(fmt.Sprintf("downloading: %d of %s, %s", done.Load(), cmdutil.Count(len(todo), "file"), HumanBytes(bytes.Load())))
	}
	jobs := make(chan *file)
	for range min(o.Concurrency, max(len(todo), 1)) {
		wg.Go(func() {
			for f := range jobs {
				err := o.fetch(ctx, c, f, !m.RequiresAccessToken, func(n int64) { bytes.Add(n); show() })
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						stop()
					}
				} else {
					done.Add(1)
					f.fresh = true
					prog.above(fmt.Sprintf("%s is created", f.path), o.IO.Out)
				}
				mu.Unlock()
				show()
			}
		})
	}
	show()
feed:
	for _, f := range todo {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		if o.Ctx.Err() != nil {
			return nil, o.Ctx.Err()
		}
		return nil, cmdutil.WithHint(firstErr, "the files already downloaded are kept: run the same command again to download the rest")
	}
	return files, o.Ctx.Err()
}

// fetch downloads one file, retrying what can be retried.
func (o *ExportOptions) fetch(ctx context.Context, c *client.Client, f *file, noAuth bool, progress func(int64)) error {
	policy := bulkengine.RetryPolicy{}.WithDefaults()
	failures, throttled := 0, 0
	for {
		n, err := o.fetchOnce(ctx, c, f, noAuth, progress)
		if err == nil {
			f.size = n
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if we := (*writeError)(nil); errors.As(err, &we) {
			return fmt.Errorf("downloading %s to %s: %w", f.typ, f.path, we)
		}
		a := bulkengine.Classify(err)
		var wait time.Duration
		switch a.Kind {
		case bulkengine.KindThrottled:
			throttled++
			if throttled > policy.MaxThrottled {
				return fmt.Errorf("downloading %s: %w", f.typ, err)
			}
			wait = max(a.Pause, policy.Backoff(throttled))
		case bulkengine.KindUncertain, bulkengine.KindNotSent:
			failures++
			if failures > policy.MaxFailures {
				return fmt.Errorf("downloading %s: %w", f.typ, err)
			}
			wait = policy.Backoff(failures)
		default:
			return fmt.Errorf("downloading %s: %w", f.typ, err)
		}
		if err := bulkengine.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// fetchOnce streams the file into place through config.WriteFileAtomicFunc:
// a temporary file next to it (0600), synced and renamed once whole; a
// failed download leaves nothing under the file's name.
func (o *ExportOptions) fetchOnce(ctx context.Context, c *client.Client, f *file, noAuth bool, progress func(int64)) (int64, error) {
	var n int64
	err := config.WriteFileAtomicFunc(f.path, 0o600, func(w io.Writer) error {
		var err error
		n, err = c.Download(ctx, &client.Request{URL: f.url, Accept: "*/*", NoAuth: noAuth}, &countingWriter{w: w, add: progress})
		return err
	})
	if err != nil {
		progress(-n)
		return 0, err
	}
	return n, nil
}

type countingWriter struct {
	w   io.Writer
	add func(int64)
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.add(int64(n))
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

// writeError is a failure to write the local file: not the server's, not
// retried.
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing the file: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }
