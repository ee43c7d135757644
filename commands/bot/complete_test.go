package bot_test

import (
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

const (
	noFile       = ":4\n"
	noFileStderr = "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
)

// save and deploy (and the deprecated save-bot and deploy-bot) complete
// the names medplum.config.json lists, described by their id, in the
// file's order, each once and not again once given; from the file alone,
// without asking the server.
func TestSaveDeployCompleteNamesFromConfig(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	const (
		a = "11111111-1111-4111-8111-111111111111"
		b = "22222222-2222-4222-8222-222222222222"
		c = "33333333-3333-4333-8333-333333333333"
	)
	write(t, e, map[string]string{"medplum.config.json": `{"bots": [
  {"name": "hello-world", "id": "` + a + `", "source": "src/hello-world.ts"},
  {"name": "hello-lab", "id": "` + b + `", "source": "src/hello-lab.ts", "dist": "dist/hello-lab.js"},
  {"name": "intake", "id": "` + c + `", "source": "src/intake.ts"},
  {"name": "draft", "source": "src/draft.ts"},
  {"name": "intake", "id": "` + c + `", "source": "src/intake.ts"},
  {"id": "` + a + `"}
]}`})
	srv.ResetRequests()
	all := "hello-world\t" + a + "\nhello-lab\t" + b + "\nintake\t" + c + "\ndraft\n" + noFile
	for _, cmd := range [][]string{{"bot", "deploy"}, {"bot", "save"}, {"bots", "deploy"}, {"deploy-bot"}, {"save-bot"}} {
		e.Run(append(append([]string{"__complete"}, cmd...), "")...).Expect(t, 0, all, noFileStderr)
	}
	e.Run("__complete", "bot", "deploy", "hello-").Expect(t, 0,
		"hello-world\t"+a+"\nhello-lab\t"+b+"\n"+noFile, noFileStderr)
	e.Run("__complete", "bot", "save", "hello-world", "").Expect(t, 0,
		"hello-lab\t"+b+"\nintake\t"+c+"\ndraft\n"+noFile, noFileStderr)
	e.Run("__complete", "bot", "deploy", "--dry-run", "in").Expect(t, 0, "intake\t"+c+"\n"+noFile, noFileStderr)
	e.Run("__completeNoDesc", "bot", "deploy", "h").Expect(t, 0, "hello-world\nhello-lab\n"+noFile, noFileStderr)
	// A pattern is the user's to write: nothing to replace it with.
	e.Run("__complete", "bot", "deploy", "hello-*").Expect(t, 0, noFile, noFileStderr)
	e.Run("__complete", "bot", "deploy", "nope").Expect(t, 0, noFile, noFileStderr)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests for names that come from the file: %v", n, clitest.Paths(srv))
	}

	// No file, or one that cannot be read: nothing, and no file names.
	other := clitest.SignedIn(t, srv)
	other.Run("__complete", "bot", "deploy", "").Expect(t, 0, noFile, noFileStderr)
	write(t, other, map[string]string{"medplum.config.json": `{"bots": {}}`})
	other.Run("__complete", "bot", "save", "").Expect(t, 0, noFile, noFileStderr)
}
