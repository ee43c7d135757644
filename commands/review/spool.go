package review

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
)

// spool keeps a list that only the end of the review prints (findings
// before the members of an HTML report, after them in JSON): the first
// spoolMemory items in memory, the rest in a temporary file, one JSON line
// each, so that a project of any size takes the same memory.
type spool[T any] struct {
	mem  []T
	f    *os.File
	w    *bufio.Writer
	n    int
	keep int // items kept in memory before the file starts
}

const spoolMemory = 2000

func newSpool[T any]() *spool[T] { return &spool[T]{keep: spoolMemory} }

// add appends an item.
func (s *spool[T]) add(v T) error {
	s.n++
	if s.f == nil && len(s.mem) < s.keep {
		s.mem = append(s.mem, v)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "medplum-review-*.ndjson")
		if err != nil {
			return err
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.w.Write(b)
	return s.w.WriteByte('\n')
}

// len is the number of items.
func (s *spool[T]) len() int { return s.n }

// each calls f with every item in order.
func (s *spool[T]) each(f func(T) error) error {
	for _, v := range s.mem {
		if err := f(v); err != nil {
			return err
		}
	}
	if s.f == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReaderSize(s.f, 64<<10))
	for {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if err := f(v); err != nil {
			return err
		}
	}
	_, err := s.f.Seek(0, io.SeekEnd)
	return err
}

// close removes the file.
func (s *spool[T]) close() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}
