package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// writeMarkdown writes one page per command (cobra's names: medplum_get.md),
// one per help topic (medplum_help_exit-codes.md), and removes pages of
// commands that no longer exist.
func writeMarkdown(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "medplum*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	disableAutoGenTag(root)
	literalDescriptions(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return err
	}
	topics := helpTopics(root)
	if len(topics) == 0 {
		return nil
	}
	var index bytes.Buffer
	index.WriteString("\n### Help topics\n\n")
	for _, t := range topics {
		name := "medplum_help_" + t.Name() + ".md"
		fmt.Fprintf(&index, "* [medplum help %s](%s)\t - %s\n", t.Name(), name, t.Short)
		var b bytes.Buffer
		fmt.Fprintf(&b, "## medplum help %s\n\n%s\n\n```text\n%s```\n\n", t.Name(), t.Short, withFinalNewline(t.Long))
		fmt.Fprintf(&b, "### SEE ALSO\n\n* [medplum](medplum.md)\t - %s\n", root.Short)
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	rootPage := filepath.Join(dir, "medplum.md")
	page, err := os.ReadFile(rootPage)
	if err != nil {
		return err
	}
	return os.WriteFile(rootPage, append(page, index.Bytes()...), 0o644)
}

// writeMan writes section-1 man pages (medplum.1, medplum-get.1, ...). The
// help topics become the ENVIRONMENT and EXIT STATUS sections of medplum(1).
func writeMan(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	disableAutoGenTag(root)
	literalDescriptions(root)
	escapeAngles(root)
	header := &doc.GenManHeader{Title: "MEDPLUM", Section: "1", Source: "medplum", Manual: "medplum manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return err
	}
	var extra bytes.Buffer
	for _, t := range helpTopics(root) {
		fmt.Fprintf(&extra, ".SH %s\n.PP\n.nf\n%s.fi\n\n", manSection(t.Name()), roffEscape(withFinalNewline(t.Long)))
	}
	rootPage := filepath.Join(dir, "medplum.1")
	page, err := os.ReadFile(rootPage)
	if err != nil {
		return err
	}
	// Sections go before SEE ALSO, where man-pages(7) puts them.
	if i := bytes.Index(page, []byte(".SH SEE ALSO")); i >= 0 {
		page = append(page[:i:i], append(extra.Bytes(), page[i:]...)...)
	} else {
		page = append(page, extra.Bytes()...)
	}
	return os.WriteFile(rootPage, page, 0o644)
}

// writeCompletions writes the scripts `medplum completion SHELL` prints,
// under the names shells look for.
func writeCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gens := []struct {
		name string
		gen  func(*bytes.Buffer) error
	}{
		{"medplum.bash", func(b *bytes.Buffer) error { return root.GenBashCompletionV2(b, true) }},
		{"_medplum", func(b *bytes.Buffer) error { return root.GenZshCompletion(b) }},
		{"medplum.fish", func(b *bytes.Buffer) error { return root.GenFishCompletion(b, true) }},
		{"medplum.ps1", func(b *bytes.Buffer) error { return root.GenPowerShellCompletionWithDesc(b) }},
	}
	for _, g := range gens {
		var b bytes.Buffer
		if err := g.gen(&b); err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, g.name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// helpTopics are the root's `medplum help <topic>` pages: commands with
// text and no action, which cobra's generators skip.
func helpTopics(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.IsAdditionalHelpTopicCommand() && !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// literalDescriptions puts each command's description in a preformatted
// block, as the terminal shows it. The generators treat it as Markdown,
// where <member> or AccessPolicy/<id> would be taken for HTML tags and
// dropped, and the indented lists of the help texts would be reflowed.
// (Help topics are written separately and keep their text.)
func literalDescriptions(c *cobra.Command) {
	if c.Long != "" && !c.IsAdditionalHelpTopicCommand() {
		c.Long = "```text\n" + withFinalNewline(c.Long) + "```"
	}
	for _, sub := range c.Commands() {
		literalDescriptions(sub)
	}
}

// escapeAngles escapes < and > in the usage lines and flag descriptions
// that go-md2man reads as Markdown (the man page's SYNOPSIS and OPTIONS):
// "medplum members get <member>" would lose its argument.
func escapeAngles(c *cobra.Command) {
	esc := strings.NewReplacer("<", `\<`, ">", `\>`)
	// The first word of Use is the command's name, which cobra reads.
	if name, rest, ok := strings.Cut(c.Use, " "); ok {
		c.Use = name + " " + esc.Replace(rest)
	}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) { f.Usage = esc.Replace(f.Usage) })
	for _, sub := range c.Commands() {
		escapeAngles(sub)
	}
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// manSection names the man-page section of a help topic.
func manSection(topic string) string {
	switch topic {
	case "exit-codes":
		return "EXIT STATUS"
	}
	return strings.ToUpper(strings.ReplaceAll(topic, "-", " "))
}

// roffEscape makes plain text safe inside .nf/.fi: backslashes, and lines
// that would otherwise start a request.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var b strings.Builder
	for l := range strings.Lines(s) {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			b.WriteString(`\&`)
		}
		b.WriteString(l)
	}
	return b.String()
}

func withFinalNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}
