package seedtest

import "testing"

func TestGoPrint(t *testing.T) {
	for python, want := range map[string]string{
		"[1, 4, 9]\n":                "[1 4 9]\n",
		"[42, None, 'hello']\n":      "[42 <nil> hello]\n",
		"[]\n":                       "[]\n",
		"400\nNumber: 10, Fib: 55\n": "400\nNumber: 10, Fib: 55\n",
		"[8, 27, 64]\nx\n[0]\n":      "[8 27 64]\nx\n[0]\n",
	} {
		if got := GoPrint(python); got != want {
			t.Errorf("GoPrint(%q) = %q, want %q", python, got, want)
		}
	}
}
