package ojson

import "testing"

func TestRoundTrip(t *testing.T) {
	in := `{"b":1.10,"a":[true,null,"\u003c",{"z":{}}],"c":-0}`
	n, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(n.Bytes()); got != in {
		t.Errorf("got %s", got)
	}
}

func TestEdit(t *testing.T) {
	n, err := Parse([]byte(`{"z":1,"secret":"s","a":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	n.Del("secret")
	n.Get("a").Set("k", String(`"<x>"`))
	n.Set("new", Literal("true"))
	if got, want := string(n.Bytes()), `{"z":1,"a":{"k":"\"<x>\""},"new":true}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if s, ok := n.Get("a").Get("k").Str(); !ok || s != `"<x>"` {
		t.Errorf("Str = %q, %v", s, ok)
	}
	if n.Get("missing").Get("x") != nil {
		t.Error("Get on nil is not nil")
	}
}
