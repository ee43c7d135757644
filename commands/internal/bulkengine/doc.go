// Package bulkengine is what the bulk commands share (invite --csv, bulk
// import): a journal that makes a run resumable and never counts work
// before its record is on disk (group commit, fdatasync), a limiter that
// keeps as many requests in flight as the server completes fastest, the
// classification and bounds of retries, the watch that stops a run whose
// server stopped answering, the reporting of finished work in the order it
// became durable, and report files written atomically.
//
// It knows nothing of rows, CSV, invites or FHIR resources: its users own
// what a unit of work is, how it is sent, and what its journal records say.
// It prints nothing.
package bulkengine
