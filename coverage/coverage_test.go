package coverage

import (
	"testing"

	"github.com/fuzztriage/triage/store"
)

func TestScopeRules(t *testing.T) {
	r := &Rules{Root: "/ws", Crate: "/ws/vm/ide", Fuzz: "/ws/vm/ide/fuzz", Exclude: []string{"save_restore.rs", "vm/ide/src/resolver/"}}
	cases := map[string]Scope{
		"/ws/vm/ide/src/lib.rs":              Primary,
		"/ws/vm/ide/fuzz/fuzz_main.rs":       Secondary,
		"/ws/vm/scsi/src/lib.rs":             Secondary,
		"/ws/vm/ide/src/save_restore.rs":     Excluded,
		"/ws/vm/ide/src/resolver/mod.rs":     Excluded,
		"/rustc/abc/library/std/src/lib.rs":  Out,
		"/usr/share/cargo/registry/x/lib.rs": Out,
		"/ws/vendor/foo/src/lib.rs":          Out,
		"/wsx/other.rs":                      Out,
	}
	for file, want := range cases {
		if got, _ := r.ScopeOf(file); got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
	// Configured scopes win over the defaults.
	r.Primary = []string{"vm/ide/src/ata.rs"}
	r.Secondary = []string{"vm/ide/src/"}
	if got, _ := r.ScopeOf("/ws/vm/ide/src/ata.rs"); got != Primary {
		t.Errorf("configured primary: %s", got)
	}
	if got, _ := r.ScopeOf("/ws/vm/ide/src/lib.rs"); got != Secondary {
		t.Errorf("configured secondary: %s", got)
	}
}

// Every gap class is complete, and the last takes whatever is left.
func TestGapClassesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range GapClasses {
		if c.Name == "" || c.Means == "" || c.Action == "" || c.Test == nil || seen[c.Name] {
			t.Errorf("gap class %q is incomplete or repeated", c.Name)
		}
		seen[c.Name] = true
	}
	last := GapClasses[len(GapClasses)-1]
	if last.Name != "reachable" || last.Test(&gapContext{gap: &Gap{}, callers: func(*function) (bool, string) { return false, "" }}) == "" {
		t.Errorf("the last class must take every gap")
	}
}

func TestErrorHandlingLines(t *testing.T) {
	errorLines := []string{`unreachable!("x")`, `return Err(Error::Bad);`, `Err(e) => return Err(e.into()),`, `return None;`, `debug_assert!(x > 0);`, `tracing::warn!("bad state");`, `.ok_or(Error::Missing)?;`}
	for _, l := range errorLines {
		if !errorLineRE.MatchString(l) {
			t.Errorf("%q is not taken for error handling", l)
		}
	}
	for _, l := range []string{`self.count += 1;`, `let x = compute(a, b);`, `log.transfers += 1; // COVERAGE(reachable)`} {
		if errorLineRE.MatchString(l) {
			t.Errorf("%q is taken for error handling", l)
		}
	}
}

func TestCompareRecords(t *testing.T) {
	prev := &store.CoverageRecord{PrimaryLines: 80, Covered: map[string]string{"a.rs": "1-5,9", "b.rs": "2"}}
	cur := &store.CoverageRecord{PrimaryLines: 79.6, Covered: map[string]string{"a.rs": "1-4,9-10"}}
	c, err := Compare(prev, cur, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fell {
		t.Error("a fall within the tolerance is a fall")
	}
	if len(c.Lost) != 2 || c.Lost[0] != (LineChange{"a.rs", "5"}) || c.Lost[1] != (LineChange{"b.rs", "2"}) || len(c.Gained) != 1 || c.Gained[0].Lines != "10" {
		t.Errorf("lost %+v gained %+v", c.Lost, c.Gained)
	}
	if c, _ := Compare(prev, cur, 0.1); !c.Fell {
		t.Error("a fall beyond the tolerance is not a fall")
	}
}
