package bulk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// The updates of references read the server's copy and write it back
// conditional on the version read (request.ifMatch W/"<versionId>",
// captures 556-556d): an edit that lands on the server between the read
// and the write makes the PUT 412 (556c), and the update is read and
// applied again to the edited copy, never written over it.

// editMeanwhile makes every PUT Bundle of updates (the first n of them)
// land just after an edit of the resource it writes back (what edit does
// to the server's copy): another client's change between our read and our
// write.
func editMeanwhile(srv *medplumtest.Server, n int, body string, edit func(try int) client.Resource) {
	try := 0
	srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: body, Times: n, Before: func() {
		try++
		srv.Update(edit(try))
	}})
}

// A plain import: Patient la is created before Patient lb has an id, and
// updated to point at it once it has one; an edit of la made on the
// server between the update's read and its write is kept.
func TestImportReferenceUpdateKeepsAnEditMadeMeanwhile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	linked(t, e)
	const src = "urn:medplum-cli:source-id"
	editMeanwhile(srv, 1, `"method":"PUT"`, func(int) client.Resource {
		la := byOld(t, srv, "Patient", src, "la")
		la["gender"] = "other"
		return la
	})
	srv.ResetRequests()
	e.Run(linkedArgs()...).Expect(t, 0, linkedCreated,
		"imported 2 resources: 2 created, 0 already there, 0 failed; 1 updated to point at resources created after it\n")
	if f := srv.PendingFaults(); len(f) != 0 {
		t.Fatalf("the edit never landed: %+v", f)
	}
	linkedOK(t, srv)
	if la := byOld(t, srv, "Patient", src, "la"); la["gender"] != "other" {
		t.Errorf("the edit made between the update's read and its write was overwritten: %v", la)
	}
	if n := updates(srv); n != 2 {
		t.Errorf("%d update Bundles sent, want 2 (the first answered 412)", n)
	}
	for _, r := range srv.RequestsTo("POST", "/fhir/R4") {
		if b := string(r.Body); strings.Contains(b, `"method":"PUT"`) && !strings.Contains(b, `"ifMatch":"W/\"`) {
			t.Errorf("an update without a version check: %s", b)
		}
	}
}

// The same edit, landing before every write: after versionTries (5)
// reads and writes the update is left undone, not forced (a failed row,
// exit 3, the last edit kept), and the same command again does it.
func TestImportReferenceUpdateChangedEveryTimeIsLeftAlone(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	linked(t, e)
	const src = "urn:medplum-cli:source-id"
	editMeanwhile(srv, 5, `"method":"PUT"`, func(try int) client.Resource {
		la := byOld(t, srv, "Patient", src, "la")
		la["name"] = []any{map[string]any{"family": fmt.Sprint("Edit", try)}}
		return la
	})
	args := linkedArgs()
	e.Run(append(args, "--report", "r.csv")...).Expect(t, 3, linkedCreated,
		laUpdateFailed("412 it changed on the server between our read and our write 5 times; left as the server has it"))
	if n := updates(srv); n != 5 {
		t.Errorf("%d update Bundles sent, want 5", n)
	}
	la := byOld(t, srv, "Patient", src, "la")
	if got := fmt.Sprint(la["name"]); got != "[map[family:Edit5]]" || refOf(la, "link", "other") != "Patient/lb" {
		t.Errorf("Patient la after the edits: %v", la)
	}
	rows, err := os.ReadFile(filepath.Join(e.Home, "r.csv"))
	if want := "linked.ndjson,1,Patient/la,failed,412,,updating its references: 412 it changed on the server between our read and our write 5 times; left as the server has it\n"; err != nil || !strings.HasSuffix(string(rows), want) {
		t.Errorf("r.csv (%v):\n%s", err, rows)
	}
	e.Run(args...).Expect(t, 0, "",
		"imported 0 resources: 0 created, 0 already there, 0 failed; 2 done by an earlier run (0 failed); 1 updated to point at resources created after it\n")
	linkedOK(t, srv)
	if la := byOld(t, srv, "Patient", src, "la"); fmt.Sprint(la["name"]) != "[map[family:Edit5]]" {
		t.Errorf("the last edit was overwritten: %v", la)
	}
}

// --restore: an Observation found by its id points at a Patient that had
// to be created again with a new id (the PUT of its id answered 404,
// capture 547c); the Observation's server copy is re-pointed at it, and a
// note added on the server between that read and that write is kept.
func TestImportRestoreKeepsAnEditMadeMeanwhile(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	obs := srv.Create(srv.Seed.ProjectID, client.Resource{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "r"},
		"subject": map[string]any{"reference": "Patient/0f6c2b4e-2a61-4d7c-9c53-5e8a1b7d3f11"}})
	const gone = "0f6c2b4e-2a61-4d7c-9c53-5e8a1b7d3f11"
	writeFile(t, e, "p.ndjson", `{"resourceType":"Patient","id":"`+gone+`","name":[{"family":"Gone"}]}`+"\n")
	writeFile(t, e, "o.ndjson", `{"resourceType":"Observation","id":"`+obs.ID()+`","status":"final","code":{"text":"r"},"subject":{"reference":"Patient/`+gone+`"}}`+"\n")
	editMeanwhile(srv, 1, `"method":"PUT","url":"Observation/`+obs.ID()+`"`, func(int) client.Resource {
		o := srv.Resource("Observation", obs.ID())
		o["note"] = []any{map[string]any{"text": "added meanwhile"}}
		return o
	})
	e.Run("bulk", "import", "p.ndjson", "o.ndjson", "--restore", "-q").Expect(t, 0, "",
		"imported 2 resources: 1 created, 0 restored with their ids, 1 already there, 0 failed; 1 found updated to point at re-created resources\n")
	if f := srv.PendingFaults(); len(f) != 0 {
		t.Fatalf("the edit never landed: %+v", f)
	}
	p := byOld(t, srv, "Patient", "urn:medplum-cli:source-id", gone)
	o := srv.Resource("Observation", obs.ID())
	if refOf(o, "subject") != "Patient/"+p.ID() {
		t.Errorf("the Observation points at %s, want Patient/%s", refOf(o, "subject"), p.ID())
	}
	if fmt.Sprint(o["note"]) != "[map[text:added meanwhile]]" {
		t.Errorf("the note added between the read and the write was overwritten: %v", o)
	}
}

// The updates of references are retried as the creates are (issue 14
// leftover): a serialization conflict, of the whole Bundle or of its entry
// (409, code 40001: 5.0.10 runs a conditional update in a serializable
// transaction), and a proxy's 503 are sent again, not counted failed.
func TestImportReferenceUpdateRetriesConflictsAndOutages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(srv *medplumtest.Server)
	}{
		{"409 Bundle", func(srv *medplumtest.Server) {
			srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Status: 409})
		}},
		{"409 entry", func(srv *medplumtest.Server) {
			srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Before: func() { srv.ConflictBatchEntries(0) }})
		}},
		{"503 Bundle", func(srv *medplumtest.Server) {
			srv.Inject(medplumtest.Fault{Method: "POST", Path: "/fhir/R4", Body: `"method":"PUT"`, Status: 503})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := medplumtest.NewServer(t)
			e := clitest.SignedIn(t, srv)
			linked(t, e)
			tc.inject(srv)
			srv.ResetRequests()
			e.Run(append(linkedArgs(), "-q")...).Expect(t, 0, "",
				"imported 2 resources: 2 created, 0 already there, 0 failed; 1 updated to point at resources created after it\n")
			if f := srv.PendingFaults(); len(f) != 0 {
				t.Fatalf("the fault was not used: %+v", f)
			}
			if n := updates(srv); n != 2 {
				t.Errorf("%d update Bundles sent, want 2 (the first answered %s)", n, tc.name)
			}
			linkedOK(t, srv)
		})
	}
}
