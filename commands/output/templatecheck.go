package output

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// checkTemplate finds, before anything is sent, the calls of a --template
// that fail whatever the data: text/template parses a call of a function
// it knows without looking at its arguments, and says that truncate wants
// two only when it runs, after the request, with part of the output
// printed. For every call of one of our helpers (their signatures by
// reflect) or of text/template's builtins it checks the number of
// arguments (a command after the first of a pipeline gets the piped value
// as its last), and the type of every argument that is certain from the
// text: a literal ("x" where truncate wants an integer), a function called
// without arguments (its result type), the piped value of a literal or a
// function. Data (.field, $x, a parenthesised pipeline) is not judged. The
// error is the first one in the text, at its line and column.
func checkTemplate(t *template.Template, text string) error {
	c := &templateChecker{funcs: map[string]reflect.Type{}, first: -1}
	for name, fn := range templateFuncs(nil, nil) {
		c.funcs[name] = reflect.TypeOf(fn)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			c.node(tt.Tree.Root)
		}
	}
	if c.first < 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", templatePosition(text, c.first), c.msg)
}

// templateBuiltins are the signatures of text/template's own functions
// (text/template/funcs.go), which it does not export; built on the first
// --template (nothing at package init: DESIGN.md, start-up).
var templateBuiltins = sync.OnceValue(func() map[string]reflect.Type {
	return map[string]reflect.Type{
		"and":      reflect.TypeOf((func(reflect.Value, ...reflect.Value) reflect.Value)(nil)),
		"or":       reflect.TypeOf((func(reflect.Value, ...reflect.Value) reflect.Value)(nil)),
		"not":      reflect.TypeOf((func(reflect.Value) bool)(nil)),
		"call":     reflect.TypeOf((func(reflect.Value, ...reflect.Value) reflect.Value)(nil)),
		"index":    reflect.TypeOf((func(reflect.Value, ...reflect.Value) (reflect.Value, error))(nil)),
		"slice":    reflect.TypeOf((func(reflect.Value, ...reflect.Value) (reflect.Value, error))(nil)),
		"len":      reflect.TypeOf((func(reflect.Value) (int, error))(nil)),
		"html":     reflect.TypeOf((func(...any) string)(nil)),
		"js":       reflect.TypeOf((func(...any) string)(nil)),
		"urlquery": reflect.TypeOf((func(...any) string)(nil)),
		"print":    reflect.TypeOf((func(...any) string)(nil)),
		"printf":   reflect.TypeOf((func(string, ...any) string)(nil)),
		"println":  reflect.TypeOf((func(...any) string)(nil)),
		"eq":       reflect.TypeOf((func(reflect.Value, ...reflect.Value) (bool, error))(nil)),
		"ne":       reflect.TypeOf((func(reflect.Value, reflect.Value) (bool, error))(nil)),
		"lt":       reflect.TypeOf((func(reflect.Value, reflect.Value) (bool, error))(nil)),
		"le":       reflect.TypeOf((func(reflect.Value, reflect.Value) (bool, error))(nil)),
		"gt":       reflect.TypeOf((func(reflect.Value, reflect.Value) (bool, error))(nil)),
		"ge":       reflect.TypeOf((func(reflect.Value, reflect.Value) (bool, error))(nil)),
	}
})

var reflectValueType = reflect.TypeOf(reflect.Value{})

type templateChecker struct {
	funcs map[string]reflect.Type
	first int // the position of the first error, -1 for none
	msg   string
}

// fail keeps the error that comes first in the text (the templates of
// {{define}} are walked in no particular order).
func (c *templateChecker) fail(n parse.Node, format string, args ...any) {
	if at := int(n.Position()); c.first < 0 || at < c.first {
		c.first, c.msg = at, fmt.Sprintf(format, args...)
	}
}

// signature is the type of the function a name calls, as text/template
// finds it (ours first, then its builtins), or nil.
func (c *templateChecker) signature(name string) reflect.Type {
	if t, ok := c.funcs[name]; ok {
		return t
	}
	return templateBuiltins()[name]
}

func (c *templateChecker) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, x := range n.Nodes {
			c.node(x)
		}
	case *parse.ActionNode:
		c.pipe(n.Pipe)
	case *parse.IfNode:
		c.branch(&n.BranchNode)
	case *parse.RangeNode:
		c.branch(&n.BranchNode)
	case *parse.WithNode:
		c.branch(&n.BranchNode)
	case *parse.TemplateNode:
		c.pipe(n.Pipe)
	}
}

func (c *templateChecker) branch(b *parse.BranchNode) {
	c.pipe(b.Pipe)
	c.node(b.List)
	c.node(b.ElseList)
}

func (c *templateChecker) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	var prev *parse.CommandNode
	for _, cmd := range p.Cmds {
		c.command(cmd, prev)
		prev = cmd
	}
}

// command checks a command of a pipeline; prev is the one before it,
// whose value it gets as its last argument (nil for the first).
func (c *templateChecker) command(cmd *parse.CommandNode, prev *parse.CommandNode) {
	for _, a := range cmd.Args {
		c.nested(a)
	}
	if len(cmd.Args) == 0 {
		return
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		return
	}
	c.call(id, cmd.Args[1:], prev)
}

// nested checks the pipelines inside an argument: (...) and its chains.
func (c *templateChecker) nested(n parse.Node) {
	switch n := n.(type) {
	case *parse.PipeNode:
		c.pipe(n)
	case *parse.ChainNode:
		c.nested(n.Node)
	}
}

// call checks a call of the function id names with args (and the value of
// prev piped in, when there is one), as text/template's evalCall would
// when it runs.
func (c *templateChecker) call(id *parse.IdentifierNode, args []parse.Node, prev *parse.CommandNode) {
	typ := c.signature(id.Ident)
	if typ == nil {
		return
	}
	n := len(args)
	if prev != nil {
		n++
	}
	fixed := typ.NumIn()
	if typ.IsVariadic() {
		fixed--
		if n < fixed {
			c.fail(id, "wrong number of args for %s: want at least %d got %d", id.Ident, fixed, n)
			return
		}
	} else if n != fixed {
		c.fail(id, "wrong number of args for %s: want %d got %d", id.Ident, fixed, n)
		return
	}
	if id.Ident == "eq" && c.funcs["eq"] == nil && n < 2 {
		// eq takes one argument and fails on it: "missing argument for comparison".
		c.fail(id, "wrong number of args for eq: want at least 2 got %d", n)
		return
	}
	param := func(i int) reflect.Type {
		if typ.IsVariadic() && i >= fixed {
			return typ.In(fixed).Elem()
		}
		return typ.In(i)
	}
	for i, a := range args {
		c.argument(id.Ident, i+1, param(i), a)
	}
	if prev != nil {
		if have := c.commandType(prev); have != nil {
			if want := param(n - 1); !assignableValue(have, want) {
				c.fail(id, "the value piped into %s: expected %s; got %s", id.Ident, want, have)
			}
		}
	}
}

// argument checks the argument a (number i of fn) against the parameter
// type want, as text/template's evalArg: a literal must be of its kind, a
// function called without arguments must return a type that fits.
func (c *templateChecker) argument(fn string, i int, want reflect.Type, a parse.Node) {
	switch a := a.(type) {
	case *parse.IdentifierNode:
		c.call(a, nil, nil)
		if have := c.resultType(a.Ident); have != nil && !assignableValue(have, want) {
			c.fail(a, "argument %d of %s: expected %s; got %s (what %s returns)", i, fn, want, have, a.Ident)
		}
		return
	case *parse.NilNode:
		if !canBeNil(want) {
			c.fail(a, "argument %d of %s: cannot be nil", i, fn)
		}
		return
	case *parse.BoolNode, *parse.NumberNode, *parse.StringNode:
	default:
		return // data, or a pipeline checked on its own
	}
	if want == reflectValueType {
		return
	}
	var kind string
	switch want.Kind() {
	case reflect.Bool:
		if _, ok := a.(*parse.BoolNode); !ok {
			kind = "bool"
		}
	case reflect.String:
		if _, ok := a.(*parse.StringNode); !ok {
			kind = "string"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if num, ok := a.(*parse.NumberNode); !ok || !num.IsInt {
			kind = "integer"
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if num, ok := a.(*parse.NumberNode); !ok || !num.IsUint {
			kind = "unsigned integer"
		}
	case reflect.Float32, reflect.Float64:
		if num, ok := a.(*parse.NumberNode); !ok || !num.IsFloat {
			kind = "float"
		}
	case reflect.Complex64, reflect.Complex128:
		if num, ok := a.(*parse.NumberNode); !ok || !num.IsComplex {
			kind = "complex"
		}
	case reflect.Interface:
		if want.NumMethod() == 0 {
			return
		}
		kind = want.String()
	default:
		kind = want.String()
	}
	if kind != "" {
		c.fail(a, "argument %d of %s: expected %s; found %s", i, fn, kind, a)
	}
}

// commandType is the type of a command's value when the text alone says
// it (a literal, or a function of ours or a builtin with a concrete result
// type), else nil.
func (c *templateChecker) commandType(cmd *parse.CommandNode) reflect.Type {
	if len(cmd.Args) == 0 {
		return nil
	}
	switch a := cmd.Args[0].(type) {
	case *parse.IdentifierNode:
		return c.resultType(a.Ident)
	case *parse.StringNode:
		if len(cmd.Args) == 1 {
			return reflect.TypeOf("")
		}
	case *parse.BoolNode:
		if len(cmd.Args) == 1 {
			return reflect.TypeOf(false)
		}
	case *parse.NumberNode:
		if len(cmd.Args) == 1 {
			return literalNumberType(a)
		}
	}
	return nil
}

// resultType is the type a function returns when it is concrete (not an
// interface or a reflect.Value, whose dynamic type only the data knows).
func (c *templateChecker) resultType(name string) reflect.Type {
	typ := c.signature(name)
	if typ == nil || typ.NumOut() == 0 {
		return nil
	}
	out := typ.Out(0)
	if out == reflectValueType || out.Kind() == reflect.Interface {
		return nil
	}
	return out
}

// literalNumberType is the type text/template gives a number literal that
// is a value of its own (idealConstant): complex128, float64 or int.
func literalNumberType(n *parse.NumberNode) reflect.Type {
	hexInt := len(n.Text) > 2 && n.Text[0] == '0' && (n.Text[1] == 'x' || n.Text[1] == 'X') && !strings.ContainsAny(n.Text, "pP")
	runeInt := strings.HasPrefix(n.Text, "'")
	switch {
	case n.IsComplex:
		return reflect.TypeOf(complex128(0))
	case n.IsFloat && !hexInt && !runeInt && strings.ContainsAny(n.Text, ".eEpP"):
		return reflect.TypeOf(float64(0))
	case n.IsInt:
		return reflect.TypeOf(0)
	}
	return nil
}

// assignableValue reports whether a value of the concrete type have
// passes text/template's validateType for want: certain only for a want
// that is not an interface, a pointer or a reflect.Value (those it
// converts or lets through).
func assignableValue(have, want reflect.Type) bool {
	if want == reflectValueType || want.Kind() == reflect.Interface || want.Kind() == reflect.Pointer {
		return true
	}
	return have.AssignableTo(want)
}

// canBeNil is text/template's: the kinds a nil literal can be.
func canBeNil(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice, reflect.UnsafePointer:
		return true
	}
	return false
}

// templatePosition says where byte offset at is in a template: "line 1,
// column 3", the column counting characters from 1 (as --jq's do).
func templatePosition(text string, at int) string {
	line, col := cmdutil.LineColumn(text, at)
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}
