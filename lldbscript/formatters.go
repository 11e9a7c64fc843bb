package lldbscript

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
)

// SafeFormatterSections are the sections of the toolchain's lldb_commands
// (rust-lldb's formatter list, one "# Name" comment per section) that are
// safe on lldb-19. The rest are left out: the catch-all `.*` synthetic
// provider and the enum providers misread niche-optimized enums and can
// hang lldb-19 for minutes at several GB; the String provider expands
// garbage lengths of inactive enum variants into thousands of lines.
var SafeFormatterSections = []string{"Vec", "Rc", "Arc", "RefCell"}

// Formatters are the Rust formatters a session loads.
type Formatters struct {
	// Toolchain names the toolchain ("rustc 1.95.0 (59807616e 2026-04-14)").
	Toolchain string `json:"toolchain" yaml:"toolchain"`
	Sysroot   string `json:"sysroot" yaml:"sysroot"`
	// LookupPy is <sysroot>/lib/rustlib/etc/lldb_lookup.py.
	LookupPy string `json:"lookup_py" yaml:"lookup_py"`
	// Sections are the formatter sections loaded.
	Sections []string `json:"sections" yaml:"sections"`
	// Commands are the `type synthetic/summary add` lines loaded.
	Commands []string `json:"commands" yaml:"commands"`
}

// Has reports whether a section is loaded (nil-safe).
func (f *Formatters) Has(section string) bool {
	if f == nil {
		return false
	}
	for _, s := range f.Sections {
		if s == section {
			return true
		}
	}
	return false
}

// RustcVersion reads the rustc version line a binary was built with from
// its .comment section ("rustc version 1.95.0 (59807616e 2026-04-14)" ->
// "rustc 1.95.0 (59807616e 2026-04-14)", the form `rustc --version`
// prints).
func RustcVersion(binary string) (string, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return "", fmt.Errorf("%s: %w", binary, err)
	}
	defer f.Close()
	sec := f.Section(".comment")
	if sec == nil {
		return "", fmt.Errorf("%s: no .comment section naming the compiler", binary)
	}
	data, err := sec.Data()
	if err != nil {
		return "", fmt.Errorf("%s: .comment: %w", binary, err)
	}
	for _, s := range bytes.Split(data, []byte{0}) {
		if v, ok := strings.CutPrefix(string(s), "rustc version "); ok {
			return "rustc " + strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s: .comment names no rustc version", binary)
}

// Toolchains are the rustup toolchains asked, in order, for one whose
// rustc matches the binary's (`rustc +T --version`); "" is the default.
var Toolchains = []string{"", "stable", "nightly", "beta"}

var (
	sysrootMu    sync.Mutex
	sysrootCache = map[string]string{} // rustc version -> sysroot
)

// FindFormatters finds the sysroot of the toolchain that built binary and
// reads its safe formatter sections. The error says why none were found
// (no matching toolchain, no lldb_commands, ...); sessions then run
// without formatters.
func FindFormatters(ctx context.Context, binary string) (*Formatters, error) {
	version, err := RustcVersion(binary)
	if err != nil {
		return nil, err
	}
	sysroot, err := sysrootFor(ctx, version)
	if err != nil {
		return nil, err
	}
	return FormattersFromSysroot(sysroot, version)
}

func sysrootFor(ctx context.Context, version string) (string, error) {
	sysrootMu.Lock()
	defer sysrootMu.Unlock()
	if s, ok := sysrootCache[version]; ok {
		if s == "" {
			return "", fmt.Errorf("no installed toolchain is %s", version)
		}
		return s, nil
	}
	var seen []string
	for _, tc := range Toolchains {
		args := []string{"--version"}
		if tc != "" {
			args = []string{"+" + tc, "--version"}
		}
		res, err := procrun.Run(ctx, procrun.Spec{Path: "rustc", Args: args, Timeout: 30 * time.Second, OutputCap: 4096})
		if err != nil {
			sysrootCache[version] = ""
			return "", fmt.Errorf("rustc: %w", err)
		}
		got := strings.TrimSpace(string(res.Stdout))
		if res.ExitCode != 0 || got == "" {
			continue
		}
		seen = append(seen, got)
		if got != version {
			continue
		}
		res, err = procrun.Run(ctx, procrun.Spec{Path: "rustc", Args: append(args[:len(args)-1:len(args)-1], "--print", "sysroot"), Timeout: 30 * time.Second, OutputCap: 4096})
		if err != nil || res.ExitCode != 0 {
			continue
		}
		s := strings.TrimSpace(string(res.Stdout))
		sysrootCache[version] = s
		return s, nil
	}
	sysrootCache[version] = ""
	return "", fmt.Errorf("no installed toolchain is %s (found: %s)", version, strings.Join(uniq(seen), "; "))
}

var sectionRE = regexp.MustCompile(`^#+\s*(.+?)\s*$`)

// FormattersFromSysroot reads the safe sections of a sysroot's
// lib/rustlib/etc/lldb_commands.
func FormattersFromSysroot(sysroot, toolchain string) (*Formatters, error) {
	etc := filepath.Join(sysroot, "lib", "rustlib", "etc")
	cmdsPath := filepath.Join(etc, "lldb_commands")
	data, err := os.ReadFile(cmdsPath)
	if err != nil {
		return nil, fmt.Errorf("toolchain formatters: %w", err)
	}
	lookup := filepath.Join(etc, "lldb_lookup.py")
	if _, err := os.Stat(lookup); err != nil {
		return nil, fmt.Errorf("toolchain formatters: %w", err)
	}
	f := &Formatters{Toolchain: toolchain, Sysroot: sysroot, LookupPy: lookup}
	safe := map[string]bool{}
	for _, s := range SafeFormatterSections {
		safe[s] = true
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if line == "" || !safe[section] {
			continue
		}
		if strings.HasPrefix(line, "type synthetic add") || strings.HasPrefix(line, "type summary add") {
			f.Commands = append(f.Commands, line)
			if len(f.Sections) == 0 || f.Sections[len(f.Sections)-1] != section {
				f.Sections = append(f.Sections, section)
			}
		}
	}
	if len(f.Commands) == 0 {
		return nil, fmt.Errorf("toolchain formatters: %s has none of the sections %s", cmdsPath, strings.Join(SafeFormatterSections, ", "))
	}
	return f, nil
}
