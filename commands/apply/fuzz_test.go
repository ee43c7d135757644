package apply

import (
	"errors"
	"os"
	"testing"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// FuzzParse: any bytes give either a spec or an input error (exit 2) that
// names the file; the decoder never panics on what YAML can express
// (aliases, odd keys, deep nesting, numbers YAML accepts but JSON does not).
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"project: {name: A}\nsettings: {a: 0x1F, b: .inf, c: 1_000}\n",
		"project: &p {name: A}\nclients: [*p, *p]\n",
		"project: {name: A}\nmembers: [{email: a@b.co, firstName: A, lastName: B, access: [{policy: X, parameters: {k: [1]}}]}]\n",
		"{\"project\": {\"name\": \"A\"}, \"accessPolicies\": [{\"name\": \"P\", \"resource\": [{\"resourceType\": \"Patient\"}]}]}",
		"? [a]\n: b\n", "--- \n...\n", "project: {name: A}\n<<: {x: 1}\n",
		"project: {name: A}\naccessPolicies:\n  - &x {name: P, resource: [*x]}\n",
		"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n" +
			"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nproject: {name: A}\naccessPolicies: [{name: P, resource: [*f,*f,*f,*f,*f,*f,*f,*f,*f]}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("f.yaml", t.TempDir(), data)
		if err == nil {
			if spec == nil || spec.ProjectName == "" {
				t.Fatalf("no error and no project name: %+v", spec)
			}
			return
		}
		var coder cmdutil.ExitCoder
		if !errors.As(err, &coder) || coder.ExitCode() != cmdutil.ExitUsage {
			t.Fatalf("error is not an input error (exit 2): %v", err)
		}
	})
}
