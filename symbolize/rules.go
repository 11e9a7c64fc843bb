package symbolize

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRulesYAML []byte

// Rule is one frame category rule (see rules.yaml for the format).
type Rule struct {
	ID             string        `yaml:"id"`
	Category       FrameCategory `yaml:"category"`
	Why            string        `yaml:"why"`
	Function       []string      `yaml:"function"`
	FunctionPrefix []string      `yaml:"function_prefix"`
	FunctionRegex  []string      `yaml:"function_regex"`
	FileRegex      []string      `yaml:"file_regex"`
	ModuleRegex    []string      `yaml:"module_regex"`
	// Examples are frames this rule must tag (checked by the tests, and
	// by LoadRules for a user's rules file).
	Examples []RuleExample `yaml:"examples"`

	exact    map[string]bool
	fnRE     []matcher
	fileRE   []matcher
	moduleRE []matcher
}

// matcher is a compiled regexp and a literal every match contains: most
// frames fail the cheap substring test and never run the regexp.
type matcher struct {
	re      *regexp.Regexp
	literal string
}

func (m matcher) match(s string) bool {
	if m.literal != "" && !strings.Contains(s, m.literal) {
		return false
	}
	return m.re.MatchString(s)
}

// requiredLiteral returns the longest literal string every match of re
// must contain ("" when it cannot tell).
func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best, run := "", ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0 {
				run += string(sub.Rune)
				if len(run) > len(best) {
					best = run
				}
				continue
			}
			run = ""
			if l := requiredLiteral(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

// RuleExample is a frame given by its printed symbol (raw) or demangled
// name (function), file and module.
type RuleExample struct {
	Raw      string `yaml:"raw"`
	Function string `yaml:"function"`
	File     string `yaml:"file"`
	Line     int    `yaml:"line"`
	Module   string `yaml:"module"`
}

// Frame builds the frame the example describes, demangled and normalized
// as Parse would.
func (e RuleExample) Frame() Frame {
	raw := e.Raw
	if raw == "" {
		raw = e.Function
	}
	f := Frame{Raw: raw, File: e.File, Line: e.Line, Module: e.Module}
	f.Function = Demangle(raw)
	if f.Function != "" {
		f.Normalized = NormalizeDemangled(f.Function)
	}
	return f
}

type rulesFile struct {
	SchemaVersion   int     `yaml:"schema_version"`
	ReplaceDefaults bool    `yaml:"replace_defaults"`
	Rules           []*Rule `yaml:"rules"`
}

// Rules is an ordered list of category rules: the first match wins.
type Rules struct {
	rules []*Rule

	mu    sync.Mutex
	cache map[frameKey]ruleHit
}

type frameKey struct{ name, file, module string }

type ruleHit struct {
	cat FrameCategory
	id  string
}

// maxRuleCache bounds the per-Rules memo of frame -> category.
const maxRuleCache = 1 << 16

var (
	defaultRules     *Rules
	defaultRulesOnce sync.Once
)

// DefaultRules are the rules embedded from rules.yaml.
func DefaultRules() *Rules {
	defaultRulesOnce.Do(func() {
		r, _, err := parseRules(defaultRulesYAML, "rules.yaml (embedded)")
		if err != nil {
			panic(err) // the embedded file is checked by the tests
		}
		defaultRules = r
	})
	return defaultRules
}

// ParseRules reads a rules file's content (name is used in errors).
func ParseRules(data []byte, name string) (*Rules, error) {
	r, _, err := parseRules(data, name)
	return r, err
}

func parseRules(data []byte, name string) (*Rules, bool, error) {
	var rf rulesFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	if rf.SchemaVersion != 1 {
		return nil, false, fmt.Errorf("%s: schema_version must be 1, not %d", name, rf.SchemaVersion)
	}
	seen := map[string]bool{}
	for i, r := range rf.Rules {
		if r.ID == "" {
			return nil, false, fmt.Errorf("%s: rule %d has no id", name, i+1)
		}
		if seen[r.ID] {
			return nil, false, fmt.Errorf("%s: rule id %q appears twice", name, r.ID)
		}
		seen[r.ID] = true
		if err := r.compile(); err != nil {
			return nil, false, fmt.Errorf("%s: rule %q: %w", name, r.ID, err)
		}
	}
	return &Rules{rules: rf.Rules}, rf.ReplaceDefaults, nil
}

var validCategories = map[FrameCategory]bool{
	CategoryApp: true, CategoryFuzzTarget: true, CategoryHarness: true, CategoryStd: true,
	CategoryPanic: true, CategoryAllocator: true, CategorySanitizer: true, CategoryLibc: true,
}

func (r *Rule) compile() error {
	if !validCategories[r.Category] {
		return fmt.Errorf("category %q is not one of app, fuzz-target, harness, std, panic, allocator, sanitizer, libc", r.Category)
	}
	if len(r.Function)+len(r.FunctionPrefix)+len(r.FunctionRegex)+len(r.FileRegex)+len(r.ModuleRegex) == 0 {
		return fmt.Errorf("no matcher (function, function_prefix, function_regex, file_regex, module_regex)")
	}
	r.exact = map[string]bool{}
	for _, f := range r.Function {
		r.exact[Normalize(f)] = true
	}
	var err error
	if r.fnRE, err = compileAll(r.FunctionRegex); err != nil {
		return err
	}
	if r.fileRE, err = compileAll(r.FileRegex); err != nil {
		return err
	}
	r.moduleRE, err = compileAll(r.ModuleRegex)
	return err
}

func compileAll(res []string) ([]matcher, error) {
	out := make([]matcher, 0, len(res))
	for _, s := range res {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, err
		}
		m := matcher{re: re}
		if parsed, err := syntax.Parse(s, syntax.Perl); err == nil {
			m.literal = requiredLiteral(parsed.Simplify())
		}
		out = append(out, m)
	}
	return out, nil
}

// match says whether the rule claims a frame with this normalized name,
// file and module.
func (r *Rule) match(name, file, module string) bool {
	if name != "" {
		if r.exact[name] {
			return true
		}
		for _, p := range r.FunctionPrefix {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		for _, m := range r.fnRE {
			if m.match(name) {
				return true
			}
		}
	}
	if file != "" {
		for _, m := range r.fileRE {
			if m.match(file) {
				return true
			}
		}
	}
	if module != "" {
		for _, m := range r.moduleRE {
			if m.match(module) {
				return true
			}
		}
	}
	return false
}

// LoadRules reads a rules file and returns the default rules with it
// applied (see With), or only its rules when it says replace_defaults.
// Every example in the file must be tagged by its own rule (the default
// rules' examples may be claimed by the file's rules: that is what
// overriding means).
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	extra, replace, err := parseRules(data, path)
	if err != nil {
		return nil, err
	}
	out := extra
	if !replace {
		out = DefaultRules().With(extra)
	}
	if err := out.checkExamples(extra.rules); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// With returns r overridden by extra: a rule of extra whose id r has
// replaces it in place; extra's other rules come first, so they win.
func (r *Rules) With(extra *Rules) *Rules {
	byID := map[string]*Rule{}
	for _, e := range extra.rules {
		byID[e.ID] = e
	}
	var front, rest []*Rule
	used := map[string]bool{}
	for _, d := range r.rules {
		if e, ok := byID[d.ID]; ok {
			rest = append(rest, e)
			used[d.ID] = true
		} else {
			rest = append(rest, d)
		}
	}
	for _, e := range extra.rules {
		if !used[e.ID] {
			front = append(front, e)
		}
	}
	return &Rules{rules: append(front, rest...)}
}

// List returns the rules in the order they are tried.
func (r *Rules) List() []*Rule { return append([]*Rule(nil), r.rules...) }

// CheckExamples verifies that each rule's examples are tagged by that
// rule; an error lists every example that is not.
func (r *Rules) CheckExamples() error { return r.checkExamples(r.rules) }

func (r *Rules) checkExamples(rules []*Rule) error {
	var bad []string
	for _, rule := range rules {
		for _, ex := range rule.Examples {
			_, id := r.Category(ex.Frame())
			if id != rule.ID {
				bad = append(bad, fmt.Sprintf("rule %q: example %+v is tagged by %q", rule.ID, ex, id))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
}

// Category returns the category of a frame and the id of the rule that
// decided it (CategoryUnknown and "" when none matched).
func (r *Rules) Category(f Frame) (FrameCategory, string) {
	name := f.Normalized
	if name == "" && f.Function != "" {
		name = NormalizeDemangled(f.Function)
	}
	key := frameKey{name, f.File, f.Module}
	r.mu.Lock()
	if hit, ok := r.cache[key]; ok {
		r.mu.Unlock()
		return hit.cat, hit.id
	}
	r.mu.Unlock()
	hit := ruleHit{cat: CategoryUnknown}
	for _, rule := range r.rules {
		if rule.match(name, f.File, f.Module) {
			hit = ruleHit{cat: rule.Category, id: rule.ID}
			break
		}
	}
	r.mu.Lock()
	if r.cache == nil || len(r.cache) >= maxRuleCache {
		r.cache = make(map[frameKey]ruleHit)
	}
	r.cache[key] = hit
	r.mu.Unlock()
	return hit.cat, hit.id
}

// clearCache forgets the memo of frame -> category (for benchmarks).
func (r *Rules) clearCache() {
	r.mu.Lock()
	r.cache = nil
	r.mu.Unlock()
}

// RuleInferred is the Frame.Rule of frames tagged app by their neighbours.
const RuleInferred = "inferred-app"

// RuleAppModule is the Frame.Rule of C-style frames tagged app by their
// module: a named frame without a file, in a module that is not a system
// library.
const RuleAppModule = "app-module"

// systemModule says a module is the system's (libc, the dynamic loader,
// a platform library), not the code under test's.
func systemModule(m string) bool {
	for _, p := range []string{"/usr/lib/", "/lib/", "/lib64/", "/System/", "/system/", "/apex/", "/usr/local/lib/"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	base := m[strings.LastIndexByte(m, '/')+1:]
	for _, p := range []string{"libc.", "libc++", "libstdc++", "libsystem_", "libdyld", "dyld", "libpthread", "libm.", "ld-linux", "libgcc_s"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	return false
}

// Tag sets Category and Rule on every frame of the trace (Frames and
// every backtrace). Unknown frames that have a name are then inferred to
// be app code when they sit below in-app frames and above the crash
// machinery: see rules.yaml.
func (r *Rules) Tag(t *Trace) {
	shared := false
	for i := range t.Backtraces {
		fr := t.Backtraces[i].Frames
		r.TagFrames(fr)
		if len(fr) > 0 && len(t.Frames) > 0 && &fr[0] == &t.Frames[0] {
			shared = true
		}
	}
	if !shared {
		r.TagFrames(t.Frames)
	}
}

// TagFrames tags one stack, innermost frame first.
func (r *Rules) TagFrames(frames []Frame) {
	for i := range frames {
		f := &frames[i]
		f.Category, f.Rule = r.Category(*f)
		if f.Category == CategoryUnknown && f.Function != "" && f.File == "" && f.Module != "" &&
			!strings.ContainsAny(f.Function, ":<") && !systemModule(f.Module) {
			f.Category, f.Rule = CategoryApp, RuleAppModule
		}
	}
	// Nearest tagged category on the callee side (lower index) and on the
	// caller side, computed in two linear passes.
	caller := make([]FrameCategory, len(frames))
	next := CategoryUnknown
	for i := len(frames) - 1; i >= 0; i-- {
		caller[i] = next
		if c := frames[i].Category; c != CategoryUnknown {
			next = c
		}
	}
	callee := CategoryUnknown
	for i := range frames {
		f := &frames[i]
		if f.Category == CategoryUnknown && f.Function != "" && caller[i].InApp() {
			switch callee {
			case CategoryUnknown, CategoryApp, CategoryPanic, CategoryStd, CategoryAllocator, CategorySanitizer, CategoryLibc:
				f.Category, f.Rule = CategoryApp, RuleInferred
			}
		}
		if f.Category != CategoryUnknown {
			callee = f.Category
		}
	}
}
