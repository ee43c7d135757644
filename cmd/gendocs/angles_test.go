package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// placeholderRE matches the <member>, <id>, <project> of the help texts.
var placeholderRE = regexp.MustCompile(`<[A-Za-z][A-Za-z -]*>`)

// A Markdown renderer (GitHub's) takes <member> in prose for an HTML tag
// and drops it: "<member> is a membership id" would read " is a membership
// id". Outside code, no page may hold one.
func TestMarkdownHasNoBareAngleBrackets(t *testing.T) {
	dir := t.TempDir()
	if err := writeMarkdown(newRoot(), dir); err != nil {
		t.Fatal(err)
	}
	fence := regexp.MustCompile("(?s)```.*?```")
	span := regexp.MustCompile("`[^`\n]*`")
	for name, page := range readDir(t, dir) {
		prose := span.ReplaceAllString(fence.ReplaceAllString(page, ""), "")
		if m := placeholderRE.FindString(prose); m != "" {
			t.Errorf("%s: %s outside code would be dropped as an HTML tag", name, m)
		}
	}
}

// go-md2man drops <member> the same way: the man page of `members get`
// read "medplum members get  [flags]". Every placeholder of a command's
// usage line, description and flags is in its man page.
func TestManPagesKeepAngleBrackets(t *testing.T) {
	dir := t.TempDir()
	if err := writeMan(newRoot(), dir); err != nil {
		t.Fatal(err)
	}
	pages := readDir(t, dir)
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() {
			return
		}
		page := pages[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"]
		text := c.UseLine() + "\n" + c.Long
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) { text += "\n" + f.Usage })
		for _, p := range placeholderRE.FindAllString(text, -1) {
			if !strings.Contains(page, p) {
				t.Errorf("%s: %s is missing from the man page", c.CommandPath(), p)
				break
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	if want := "\n\\fBmedplum members get <member> [flags]\\fP\n"; !strings.Contains(pages["medplum-members-get.1"], want) {
		t.Errorf("medplum-members-get.1 lacks the synopsis %q:\n%s", want, pages["medplum-members-get.1"])
	}
}
