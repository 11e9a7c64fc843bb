package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// importRules say which packages may import which: the one way to run a
// program (internal/procrun) is used by the packages whose job is to run
// one (the pipeline, lldb sessions) and by test support; nothing else
// starts processes, and the CLI only parses, calls and prints.
var importRules = []struct {
	pkg     string   // the imported package
	allowed []string // the only importers (module-relative; "" = none)
	why     string
}{
	{"os/exec", []string{"internal/procrun", "bench", "bench/campaign", "bench/coverage", "bench/queue"}, "every program runs through internal/procrun (timeout, process group, guard)"},
	{"github.com/fuzztriage/triage/internal/procrun", []string{"triage", "lldbscript", "internal/fixture", "bench", "campaign", "cmin", "llvmcov"},
		"fuzz binaries run only through triage's reproduction path (fuzzing through campaign, corpus merges through cmin, LLVM's coverage tools through llvmcov), lldb only through lldbscript"},
	{"github.com/nats-io/nats.go", []string{"queue"}, "one package opens the queue, embedded or a cluster; nothing else knows the difference"},
	{"github.com/nats-io/nats.go/jetstream", []string{"queue"}, "one package opens the queue, embedded or a cluster; nothing else knows the difference"},
	{"github.com/nats-io/nats-server/v2/server", []string{"queue"}, "one package opens the queue, embedded or a cluster; nothing else knows the difference"},
}

const module = "github.com/fuzztriage/triage"

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, r := range importRules {
			if !contains(p.Imports, r.pkg) || rel == strings.TrimPrefix(strings.TrimPrefix(r.pkg, module), "/") {
				continue
			}
			if !contains(r.allowed, rel) {
				t.Errorf("%s imports %s: %s", p.ImportPath, r.pkg, r.why)
			}
		}
	}
}
