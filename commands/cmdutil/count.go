package cmdutil

import "strconv"

// Count is n followed by the noun, singular for 1: Count(1, "row") is
// "1 row", Count(0, "row") and Count(3, "row") are "0 rows" and "3 rows".
// A noun whose plural is not noun+"s" gives it: Count(2, "policy",
// "policies"), Count(2, "row with notes", "rows with notes").
func Count(n int, noun string, plural ...string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun, plural...)
}

// Noun is the word that goes with n things: noun for 1, else its plural
// (noun+"s" unless given). It also picks other words that agree with a
// number: Noun(n, "is", "are"), Noun(n, "it", "them").
func Noun(n int, noun string, plural ...string) string {
	switch {
	case n == 1:
		return noun
	case len(plural) > 0:
		return plural[0]
	}
	return noun + "s"
}
