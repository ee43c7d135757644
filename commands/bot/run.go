package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/output"
)

// RunOptions are the inputs of `bot run`.
type RunOptions struct {
	common
	Bot         string
	Arg         string // the input as an argument
	HasArg      bool
	InputFile   string // --input FILE, "-" for stdin
	ContentType string
	Output      output.Options
}

// NewCmdRun is `medplum bot run <bot> [input]`.
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "run <bot> [input]",
		Short: "Run a bot ($execute) and print its answer",
		Long: `Run a deployed bot with $execute: the input (an argument, or --input FILE, "-"
for stdin) is sent as --content-type (default application/json: an object
or an array, checked before sending), and the bot's answer is printed exactly as the server sends
it. A bot that fails (it throws, has no handler, or has no deployed code)
exits 1 with the server's message.

<bot> is the bot's name, its id or Bot/<id>.

-o json (or yaml, --jq, --template) reads the answer as JSON: an answer
that is not JSON (a bot that returns text) is then an error (exit 1, the
bot has run), with the start of the answer. Without them the answer is
printed as it came, whatever it is.

medplum-sandbox does not run bot code: its answer names the code that would
run (its SHA-256) and echoes the input, and is never the bot's result.`,
		Example: `  $ medplum bot run hello-world '{"name":"Homer"}'
  $ medplum bot run hl7-router --input message.hl7 --content-type x-application/hl7-v2+er7
  $ echo hello | medplum bot run echo --input - --content-type text/plain
  $ medplum bot run hello-world '{"name":"Homer"}' -o yaml`,
		Args:              cmdutil.RangeArgs(1, 2, "a bot and, optionally, its input"),
		ValidArgsFunction: completion.FirstArg(completion.Named(f, "Bot")),
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.Output.Check(); err != nil {
				return err
			}
			opts.Ctx = c.Context()
			opts.Bot = args[0]
			if len(args) == 2 {
				opts.Arg, opts.HasArg = args[1], true
			}
			if opts.HasArg && opts.InputFile != "" {
				return cmdutil.FlagErrorf("give the input as an argument or with --input, not both")
			}
			if _, _, err := mime.ParseMediaType(opts.ContentType); err != nil {
				return cmdutil.FlagErrorf("--content-type %q: %v", opts.ContentType, err)
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.InputFile, "input", "", `read the input from a file ("-": stdin)`)
	cmd.Flags().StringVar(&opts.ContentType, "content-type", client.ContentTypeJSON, "the input's content type; the answer comes in it too (application/json, text/plain, x-application/hl7-v2+er7, ...)")
	output.AddFlags(cmd, &opts.Output, output.Text, output.Text, output.JSON, output.YAML)
	// Any bot's JSON answer has keys; its fields are the bot's own.
	output.SetExamples(cmd, "", "keys")
	return cmd
}

func runRun(o *RunOptions) error {
	input, name, err := o.input()
	if err != nil {
		return err
	}
	if isJSON(o.ContentType) && len(bytes.TrimSpace(input)) > 0 {
		if err := cmdutil.CheckJSON(input, name); err != nil {
			return cmdutil.WithHint(err, "to send it as text: --content-type text/plain")
		}
		// Medplum's JSON parser is strict (capture 124f): "Content could
		// not be parsed", which would read as the bot's failure.
		if c := bytes.TrimSpace(input)[0]; c != '{' && c != '[' {
			return cmdutil.WithHint(cmdutil.InputErrorf("%s is JSON, but not an object or an array, the only JSON bodies Medplum reads (it would answer \"Content could not be parsed\"); nothing was sent", name),
				`wrap it in an object ({"input": ...}) or send it as text: --content-type text/plain`)
		}
	}
	c, bot, entry, err := o.find(o.Bot, o.localConfig(false))
	if err != nil {
		return err
	}
	resp, err := c.ExecuteBot(o.Ctx, bot.ID(), input, o.ContentType)
	if err != nil {
		return botFailed(bot, entry, err)
	}
	if o.Output.Format != output.Text {
		if !json.Valid(resp.Body) {
			return notJSON(bot, resp, o.Output)
		}
		return o.Output.WriteDoc(o.IO, bytes.TrimSpace(resp.Body))
	}
	if _, err := o.IO.Out.Write(resp.Body); err != nil {
		return err
	}
	if o.IO.IsStdoutTTY() && len(resp.Body) > 0 && !bytes.HasSuffix(resp.Body, []byte("\n")) {
		fmt.Fprintln(o.IO.Out)
	}
	return nil
}

// notJSON is the error of -o json|yaml, --jq or --template on an answer
// that is not JSON: the bot has run, so its answer's start is told.
func notJSON(bot client.Doc, resp *client.Response, out output.Options) error {
	flag := "-o " + string(out.Format)
	switch {
	case out.JQ != "":
		flag = "--jq"
	case out.Template != "":
		flag = "--template"
	}
	ct, _, _ := mime.ParseMediaType(resp.ContentType())
	if ct == "" {
		ct = "no content type"
	}
	return cmdutil.WithHint(fmt.Errorf("bot %s answered %s of %s, which is not JSON: %s needs a JSON answer", label(bot.String("name"), bot.ID()), cmdutil.Count(len(resp.Body), "byte"), ct, flag),
		"without -o, --jq and --template the answer is printed as it came")
}

// input is what to send, and what to call it in messages.
func (o *RunOptions) input() ([]byte, string, error) {
	switch {
	case o.HasArg:
		return []byte(o.Arg), "the input", nil
	case o.InputFile == "-":
		b, err := io.ReadAll(o.IO.In)
		return b, "the input (stdin)", err
	case o.InputFile != "":
		b, err := os.ReadFile(o.InputFile)
		if err != nil {
			return nil, "", cmdutil.InputErrorf("--input: %v", err)
		}
		return b, o.InputFile, nil
	}
	return nil, "", nil
}

func isJSON(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// botFailed says which bot failed and, where Medplum's message does not,
// what to do. entry is the bot's entry in medplum.config.json, if any.
func botFailed(bot client.Doc, entry *Entry, err error) error {
	e := client.AsError(err)
	if e == nil || e.Status != 400 {
		return err
	}
	err = fmt.Errorf("bot %s failed: %w", label(bot.String("name"), bot.ID()), err)
	switch msg := e.Error(); {
	case strings.Contains(msg, "No executable code") && entry != nil:
		return cmdutil.WithHint(err, "deploy it first: medplum bot deploy "+cmdutil.ShellQuote(entry.Name))
	case strings.Contains(msg, "No executable code"):
		return cmdutil.WithHint(err, "deploy it first: "+addHint(bot.String("name")))
	case strings.Contains(msg, "Bots not enabled"):
		return cmdutil.WithHint(err, `a super admin must add "bots" to the project's features`)
	}
	return err
}
