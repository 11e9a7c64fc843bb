package triage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/fuzztriage/triage/campaign"

	"github.com/fuzztriage/triage/dedupe"
	"gopkg.in/yaml.v3"
)

// ConfigFile is the optional configuration file at the workspace root.
const ConfigFile = "triage.yaml"

// ConfigSchemaVersion is the only triage.yaml schema this build reads.
const ConfigSchemaVersion = 1

// Config is triage.yaml. Every field is optional; DefaultConfig gives the
// defaults, and each field's comment states its default. Unknown fields and
// bad values are errors that name the field.
type Config struct {
	// SchemaVersion, when set, must be 1.
	SchemaVersion int `yaml:"schema_version,omitempty"`
	// Store is the record store directory, relative to the workspace root
	// and inside it (an absolute path or one that leaves the workspace is
	// an error: a store elsewhere is asked for with --store). Default
	// ".triage".
	Store string `yaml:"store,omitempty"`
	// Jobs is how many artifacts are worked on at once. Default 0 = all cores.
	Jobs int `yaml:"jobs,omitempty"`
	// Retriage says what happens to artifacts already in the store:
	// "never" (default) skips them; "changed-binary" re-reproduces an
	// artifact whose release binary changed since it was recorded.
	Retriage string `yaml:"retriage,omitempty"`

	Build     BuildConfig     `yaml:"build,omitempty"`
	Reproduce ReproduceConfig `yaml:"reproduce,omitempty"`
	Bucket    BucketConfig    `yaml:"bucket,omitempty"`
	Minimize  MinimizeConfig  `yaml:"minimize,omitempty"`
	LLDB      LLDBConfig      `yaml:"lldb,omitempty"`
	Watch     WatchConfig     `yaml:"watch,omitempty"`
	Campaign  CampaignConfig  `yaml:"campaign,omitempty"`
	Coverage  CoverageConfig  `yaml:"coverage,omitempty"`
}

// BuildConfig says how fuzz binaries are built.
type BuildConfig struct {
	// Preset picks default commands: "auto" (default: "fuzz-build" when the
	// workspace root has an executable fuzz-build script, "xtask" when it has
	// an xtask/ crate, else "cargo-fuzz"), "cargo-fuzz", "xtask",
	// "fuzz-build", or "custom" (Release and Dev must then be given).
	Preset string `yaml:"preset,omitempty"`
	// Release and Dev are the argv of the build command per profile, with
	// placeholders {target}, {dir} (the fuzz dir), {workspace} (the
	// workspace root) and {profile} (release or dev). Given, they override
	// the preset's.
	Release []string `yaml:"release,omitempty"`
	Dev     []string `yaml:"dev,omitempty"`
	// Coverage is the argv of the coverage build (`triage coverage`):
	// the release build with CoverageRustflags. Default: the preset's
	// (cargo-fuzz and fuzz-build have one; xtask has none).
	Coverage []string `yaml:"coverage,omitempty"`
	// Binary is where the build leaves a target's binary, for builds that
	// do not use cargo-fuzz's layout (a Makefile or CI script building into
	// a directory of its own): a path relative to the workspace root or
	// absolute, with placeholders {target}, {profile} (release or dev),
	// {cargo_profile} (release or debug), {triple}, {dir} and {workspace}.
	// Default "": cargo-fuzz's <target dir>/<triple>/<release|debug>/<target>.
	Binary string `yaml:"binary,omitempty"`
	// Dir is the directory the command runs in (placeholders allowed).
	// Default "{workspace}".
	Dir string `yaml:"dir,omitempty"`
	// Timeout bounds one build. Default 30m.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Mode: "always" (default; run the build, cargo decides what is stale),
	// "missing" (build only when the binary does not exist), "never" (use
	// existing binaries; what --no-build sets).
	Mode string `yaml:"mode,omitempty"`
	// Env is extra environment for the build command ("K=V").
	Env []string `yaml:"env,omitempty"`
}

// ReproduceConfig says how artifacts are run.
type ReproduceConfig struct {
	// Tries is how many times each artifact runs on the release build.
	// Default 3. An artifact that crashes in at least half of its tries is
	// reproducible, in fewer but at least one flaky, in none not reproducible.
	Tries int `yaml:"tries,omitempty"`
	// Confirm says which inputs get all their tries. "bucket" (the
	// default): the first inputs of a bucket do; a later input whose first
	// run crashes into a bucket already confirmed reproducible (by an
	// earlier input's tries, in this run or a recorded one) is accepted on
	// that one run, and its record names what vouched for it. Flakiness is
	// a property of the bug far more than of one input, and this halves
	// the runs a nightly workload needs. "each": every input gets its own
	// tries.
	Confirm string `yaml:"confirm,omitempty"`
	// Timeout bounds one run of the fuzz binary (wall clock). Default 60s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// LibFuzzerTimeout is libFuzzer's -timeout= (seconds) for every run but
	// an oom- artifact's, so that a timeout- artifact (or a crash input that
	// now hangs) ends in libFuzzer's timeout report. Default 0: the target's
	// own -timeout option (target-options), else 5.
	LibFuzzerTimeout int `yaml:"libfuzzer_timeout,omitempty"`
	// RSSLimitMB is libFuzzer's -rss_limit_mb= for oom- artifacts. Default
	// 0: the target's own -rss_limit_mb option, else 1024.
	RSSLimitMB int `yaml:"rss_limit_mb,omitempty"`
	// RustBacktrace is the RUST_BACKTRACE value every run gets (the image's
	// environment may set one; we always set it). Default "1".
	RustBacktrace string `yaml:"rust_backtrace,omitempty"`
	// Dev says whether each bucket's representative is also reproduced on
	// the --dev build (building it). Default true.
	Dev *bool `yaml:"dev,omitempty"`
	// Env is extra environment for the fuzz binary ("K=V").
	Env []string `yaml:"env,omitempty"`
	// OutputCap bounds the captured output per stream, in bytes. Default 4 MiB.
	OutputCap int `yaml:"output_cap,omitempty"`
}

// The values of reproduce.confirm.
const (
	ConfirmBucket = "bucket"
	ConfirmEach   = "each"
)

// BucketConfig is handed to the bucketing stage.
type BucketConfig struct {
	// Frames is N, the frames a bucket key takes (dedupe.Options.Frames):
	// for panics the panic site plus N-1 callers, for other kinds the top N
	// in-app frames. Default 0: each kind's own default (1 for panics,
	// timeouts and OOMs, 3 for sanitizer reports, SEGVs and aborts).
	Frames int `yaml:"frames,omitempty"`
	// IgnoreFrames are extra regular expressions (RE2) over frame function
	// names; a matching frame counts as machinery, not code under test, so
	// keys skip it (e.g. a project's own assertion helpers).
	IgnoreFrames []string `yaml:"ignore_frames,omitempty"`
	// PathMap rewrites source paths of logs printed elsewhere before they
	// are matched to the workspace's crates and the binary's DWARF:
	// "OLD=NEW" prefix substitutions (--path-map), like llvm-symbolizer's
	// and gdb's substitute-path.
	PathMap []string `yaml:"path_map,omitempty"`

	// crates is the workspace's crate map (set by Workspace.Configure).
	crates *dedupe.CrateMap
}

// ParsePathMap reads OLD=NEW pairs.
func ParsePathMap(list []string) ([][2]string, error) {
	var out [][2]string
	for _, kv := range list {
		old, nw, ok := strings.Cut(kv, "=")
		if !ok || old == "" {
			return nil, fmt.Errorf("path map %q is not OLD=NEW", kv)
		}
		out = append(out, [2]string{old, nw})
	}
	return out, nil
}

// MinimizeConfig says how inputs are minimized.
type MinimizeConfig struct {
	// Mode: "buckets" (default: each bucket's representative, again when a
	// smaller member arrives), "all" (every new crashing input, within
	// Budget), or "off".
	Mode string `yaml:"mode,omitempty"`
	// Runs is libFuzzer's -runs= for one -minimize_crash round. Default 1000.
	Runs int `yaml:"runs,omitempty"`
	// Rounds is how many -minimize_crash rounds are tried per input; each
	// round's result is verified before it is kept. Default 3.
	Rounds int `yaml:"rounds,omitempty"`
	// Timeout bounds one -minimize_crash round. Default 60s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Budget bounds all minimization of one run in --minimize all mode.
	// Default 10m.
	Budget Duration `yaml:"budget,omitempty"`
}

// LLDBConfig says how lldb sessions are run.
type LLDBConfig struct {
	// Binary is the lldb to run. Default "lldb-19".
	Binary string `yaml:"binary,omitempty"`
	// Timeout bounds one lldb session. Default 60s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Enabled turns lldb sessions on or off. Default true.
	Enabled *bool `yaml:"enabled,omitempty"`
	// Templates is a directory whose files override the embedded lldb
	// templates of the same name (lldb-session.lldb.tmpl, triage_lldb.py);
	// relative to the workspace root. Default "": the embedded ones.
	Templates string `yaml:"templates,omitempty"`
}

// WatchConfig configures `triage watch`.
type WatchConfig struct {
	// Poll is the polling interval when inotify is unavailable (or Force
	// polling is set), and the settle delay after a burst of events.
	// Default 2s.
	Poll Duration `yaml:"poll,omitempty"`
	// ForcePoll uses polling even where inotify works. Default false.
	ForcePoll bool `yaml:"force_poll,omitempty"`
}

// CampaignConfig configures `triage fuzz` and `triage cmin`.
type CampaignConfig struct {
	// Duration of a campaign when --duration is not given. Default 1h.
	Duration Duration `yaml:"duration,omitempty"`
	// Targets gives per-target settings.
	Targets map[string]CampaignTargetConfig `yaml:"targets,omitempty"`
	// TriageCores are the cores left to triage while fuzzing (--triage
	// during). Default 1 (0 with a single core).
	TriageCores int `yaml:"triage_cores,omitempty"`
	// Flags are extra libFuzzer flags for every target's fuzzer (after the
	// guide's defaults and the target's options, so they may override
	// -ignore_crashes=1 and the like).
	Flags []string `yaml:"flags,omitempty"`
	// Cmin minimizes each corpus at the end of a campaign. Default true.
	Cmin *bool `yaml:"cmin,omitempty"`
	// LogCap bounds each target's kept output in bytes (the older half
	// rotates into <log>.1). Default 16 MiB.
	LogCap int64 `yaml:"log_cap,omitempty"`
}

// CoverageConfig configures `triage coverage`.
type CoverageConfig struct {
	// Goal is the primary scope's line-coverage goal in percent. Default
	// 85 (the fuzzing guide's).
	Goal float64 `yaml:"goal,omitempty"`
	// Tolerance is how many percentage points the primary scope's line
	// coverage may fall below the last recorded value before --ratchet
	// fails. Default 0.5.
	Tolerance float64 `yaml:"tolerance,omitempty"`
	// Exclude are files left out of every scope's denominator and
	// reported apart (the guide's structurally unreachable save_restore.rs,
	// resolver.rs). Patterns: see Targets.
	Exclude []string `yaml:"exclude,omitempty"`
	// Targets give per-target scopes: path patterns relative to the
	// workspace root ("dir/" or "dir/**" a directory, a bare name a file
	// name anywhere, else path.Match). Default: primary is the crate under
	// test (minus its fuzz directory), secondary the rest of the
	// workspace, out everything else.
	Targets map[string]CoverageTargetConfig `yaml:"targets,omitempty"`
	// Timeout bounds one replay process. Default 10m.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Toolchain is the rustup toolchain whose LLVM version picks the
	// tools ("": the default one).
	Toolchain string `yaml:"toolchain,omitempty"`
}

// CoverageTargetConfig is one target's scopes.
type CoverageTargetConfig struct {
	Primary   []string `yaml:"primary,omitempty"`
	Secondary []string `yaml:"secondary,omitempty"`
	Out       []string `yaml:"out,omitempty"`
}

// CampaignTargetConfig is one target's campaign settings.
type CampaignTargetConfig struct {
	// Weight is the target's share of the cores: a positive number or
	// heavy (20), medium (15), light (8), the fuzzing guide's classes.
	// Default: the target's instrumented edges, measured.
	Weight string `yaml:"weight,omitempty"`
}

// Duration is a time.Duration written as "30s", "5m" in YAML.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "90s", "2m", or a bare number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration like 30s or 5m", n.Line)
	}
	if v, err := time.ParseDuration(s); err == nil {
		if v < 0 {
			return fmt.Errorf("line %d: negative duration %q", n.Line, s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err == nil && fmt.Sprint(secs) == strings.TrimSpace(s) && secs >= 0 {
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	return fmt.Errorf("line %d: %q is not a duration (like 30s or 5m)", n.Line, s)
}

// MarshalYAML writes the duration as "30s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Build modes.
const (
	BuildAlways    = "always"
	BuildIfMissing = "missing"
	BuildNever     = "never"
)

// Build presets.
const (
	PresetAuto      = "auto"
	PresetCargoFuzz = "cargo-fuzz"
	PresetXtask     = "xtask"
	PresetFuzzBuild = "fuzz-build"
	PresetCustom    = "custom"
)

// Minimize modes.
const (
	MinimizeBuckets = "buckets"
	MinimizeAll     = "all"
	MinimizeOff     = "off"
)

// Retriage modes.
const (
	RetriageNever         = "never"
	RetriageChangedBinary = "changed-binary"
)

// DefaultConfig is the configuration with no triage.yaml.
func DefaultConfig() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func boolPtr(b bool) *bool { return &b }

func (c *Config) applyDefaults() {
	if c.SchemaVersion == 0 {
		c.SchemaVersion = ConfigSchemaVersion
	}
	if c.Store == "" {
		c.Store = ".triage"
	}
	if c.Retriage == "" {
		c.Retriage = RetriageNever
	}
	b := &c.Build
	if b.Preset == "" {
		b.Preset = PresetAuto
	}
	if b.Dir == "" {
		b.Dir = "{workspace}"
	}
	if b.Timeout == 0 {
		b.Timeout = Duration(30 * time.Minute)
	}
	if b.Mode == "" {
		b.Mode = BuildAlways
	}
	r := &c.Reproduce
	if r.Tries == 0 {
		r.Tries = 3
	}
	if r.Confirm == "" {
		r.Confirm = ConfirmBucket
	}
	if r.Timeout == 0 {
		r.Timeout = Duration(60 * time.Second)
	}
	if r.RustBacktrace == "" {
		r.RustBacktrace = "1"
	}
	if r.Dev == nil {
		r.Dev = boolPtr(true)
	}
	if r.OutputCap == 0 {
		r.OutputCap = 4 << 20
	}
	m := &c.Minimize
	if m.Mode == "" {
		m.Mode = MinimizeBuckets
	}
	if m.Runs == 0 {
		m.Runs = 1000
	}
	if m.Rounds == 0 {
		m.Rounds = 3
	}
	if m.Timeout == 0 {
		m.Timeout = Duration(60 * time.Second)
	}
	if m.Budget == 0 {
		m.Budget = Duration(10 * time.Minute)
	}
	l := &c.LLDB
	if l.Binary == "" {
		l.Binary = "lldb-19"
	}
	if l.Timeout == 0 {
		l.Timeout = Duration(60 * time.Second)
	}
	if l.Enabled == nil {
		l.Enabled = boolPtr(true)
	}
	cp := &c.Campaign
	if cp.Duration == 0 {
		cp.Duration = Duration(time.Hour)
	}
	if cp.Cmin == nil {
		cp.Cmin = boolPtr(true)
	}
	if cp.LogCap == 0 {
		cp.LogCap = 16 << 20
	}
	cv := &c.Coverage
	if cv.Goal == 0 {
		cv.Goal = 85
	}
	if cv.Tolerance == 0 {
		cv.Tolerance = 0.5
	}
	if cv.Timeout == 0 {
		cv.Timeout = Duration(10 * time.Minute)
	}
	if c.Watch.Poll == 0 {
		c.Watch.Poll = Duration(2 * time.Second)
	}
}

// ConfigError is a bad triage.yaml: the file, the field and what is wrong.
type ConfigError struct {
	File  string
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: field %s: %s", e.File, e.Field, e.Msg)
}

// LoadConfig reads <root>/triage.yaml, or returns the defaults when there
// is none.
func LoadConfig(root string) (*Config, error) {
	path := filepath.Join(root, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses triage.yaml text; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if err := c.validate(name); err != nil {
		return nil, err
	}
	c.applyDefaults()
	return &c, nil
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// validate checks the values as written (before defaults fill the gaps).
func (c *Config) validate(file string) error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if c.SchemaVersion != 0 && c.SchemaVersion != ConfigSchemaVersion {
		return bad("schema_version", "this triage reads schema version %d, not %d", ConfigSchemaVersion, c.SchemaVersion)
	}
	if c.Jobs < 0 {
		return bad("jobs", "must be 0 (all cores) or more, not %d", c.Jobs)
	}
	if c.Store != "" {
		// A file that comes with the workspace must not make triage write
		// outside it.
		clean := filepath.Clean(c.Store)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
			return bad("store", "%q must be a directory inside the workspace, relative to it (a store elsewhere is asked for with --store)", c.Store)
		}
	}
	if c.Retriage != "" && !oneOf(c.Retriage, RetriageNever, RetriageChangedBinary) {
		return bad("retriage", "must be never or changed-binary, not %q", c.Retriage)
	}
	b := c.Build
	if b.Preset != "" && !oneOf(b.Preset, PresetAuto, PresetCargoFuzz, PresetXtask, PresetFuzzBuild, PresetCustom) {
		return bad("build.preset", "must be auto, cargo-fuzz, xtask, fuzz-build or custom, not %q", b.Preset)
	}
	if b.Preset == PresetCustom && (len(b.Release) == 0 || len(b.Dev) == 0) {
		return bad("build.release", "preset custom needs both build.release and build.dev commands")
	}
	for _, f := range []struct {
		name string
		argv []string
	}{{"build.release", b.Release}, {"build.dev", b.Dev}, {"build.coverage", b.Coverage}} {
		for _, a := range f.argv {
			if err := checkPlaceholders(a); err != nil {
				return bad(f.name, "%v", err)
			}
		}
		if len(f.argv) > 0 && f.argv[0] == "" {
			return bad(f.name, "the program (first element) is empty")
		}
	}
	if err := checkPlaceholders(b.Dir); err != nil {
		return bad("build.dir", "%v", err)
	}
	if b.Mode != "" && !oneOf(b.Mode, BuildAlways, BuildIfMissing, BuildNever) {
		return bad("build.mode", "must be always, missing or never, not %q", b.Mode)
	}
	if _, err := ParsePathMap(c.Bucket.PathMap); err != nil {
		return bad("bucket.path_map", "%v", err)
	}
	if b.Binary != "" && !strings.Contains(b.Binary, "{target}") {
		return bad("build.binary", "%q must contain {target} (every target has a binary of its own)", b.Binary)
	}
	for _, kv := range b.Env {
		if !strings.Contains(kv, "=") {
			return bad("build.env", "%q is not K=V", kv)
		}
	}
	r := c.Reproduce
	if r.Tries < 0 || r.Tries > 100 {
		return bad("reproduce.tries", "must be 1..100, not %d", r.Tries)
	}
	if r.Confirm != "" && r.Confirm != ConfirmBucket && r.Confirm != ConfirmEach {
		return bad("reproduce.confirm", "must be %s or %s, not %q", ConfirmBucket, ConfirmEach, r.Confirm)
	}
	if r.LibFuzzerTimeout < 0 {
		return bad("reproduce.libfuzzer_timeout", "must be positive seconds, not %d", r.LibFuzzerTimeout)
	}
	if r.RSSLimitMB < 0 {
		return bad("reproduce.rss_limit_mb", "must be positive, not %d", r.RSSLimitMB)
	}
	if r.OutputCap < 0 {
		return bad("reproduce.output_cap", "must be positive, not %d", r.OutputCap)
	}
	for _, kv := range r.Env {
		if !strings.Contains(kv, "=") {
			return bad("reproduce.env", "%q is not K=V", kv)
		}
	}
	if c.Bucket.Frames < 0 || c.Bucket.Frames > 50 {
		return bad("bucket.frames", "must be 0 (per-kind default) to 50, not %d", c.Bucket.Frames)
	}
	for _, re := range c.Bucket.IgnoreFrames {
		if _, err := regexp.Compile(re); err != nil {
			return bad("bucket.ignore_frames", "%q: %v", re, err)
		}
	}
	cp := c.Campaign
	if cp.Duration < 0 {
		return bad("campaign.duration", "must be positive, not %s", cp.Duration.D())
	}
	if cp.TriageCores < 0 {
		return bad("campaign.triage_cores", "must be 0 or more, not %d", cp.TriageCores)
	}
	if cp.LogCap < 0 {
		return bad("campaign.log_cap", "must be positive, not %d", cp.LogCap)
	}
	for name, t := range cp.Targets {
		if t.Weight != "" {
			if _, err := campaign.ParseWeight(t.Weight); err != nil {
				return bad("campaign.targets."+name+".weight", "%v", err)
			}
		}
	}
	for _, f := range cp.Flags {
		if !strings.HasPrefix(f, "-") || strings.ContainsAny(f, "\x00\n") {
			return bad("campaign.flags", "%q is not a libFuzzer flag (-name=value)", f)
		}
	}
	cv := c.Coverage
	if cv.Goal < 0 || cv.Goal > 100 {
		return bad("coverage.goal", "must be a percentage (0-100), not %v", cv.Goal)
	}
	if cv.Tolerance < 0 || cv.Tolerance > 100 {
		return bad("coverage.tolerance", "must be 0-100 percentage points, not %v", cv.Tolerance)
	}
	if strings.ContainsAny(cv.Toolchain, " /\x00+") {
		return bad("coverage.toolchain", "%q is not a rustup toolchain name", cv.Toolchain)
	}
	for field, pats := range map[string][]string{"coverage.exclude": cv.Exclude} {
		if err := checkGlobs(pats); err != nil {
			return bad(field, "%v", err)
		}
	}
	for name, t := range cv.Targets {
		for field, pats := range map[string][]string{"primary": t.Primary, "secondary": t.Secondary, "out": t.Out} {
			if err := checkGlobs(pats); err != nil {
				return bad("coverage.targets."+name+"."+field, "%v", err)
			}
		}
	}
	m := c.Minimize
	if m.Mode != "" && !oneOf(m.Mode, MinimizeBuckets, MinimizeAll, MinimizeOff) {
		return bad("minimize.mode", "must be buckets, all or off, not %q", m.Mode)
	}
	if m.Runs < 0 {
		return bad("minimize.runs", "must be positive, not %d", m.Runs)
	}
	if m.Rounds < 0 || m.Rounds > 50 {
		return bad("minimize.rounds", "must be 1..50, not %d", m.Rounds)
	}
	return nil
}

// checkGlobs rejects patterns path.Match cannot read.
func checkGlobs(pats []string) error {
	for _, p := range pats {
		if _, err := path.Match(strings.TrimSuffix(strings.TrimSuffix(p, "**"), "/"), "x"); err != nil || p == "" {
			return fmt.Errorf("%q is not a path pattern", p)
		}
	}
	return nil
}

// Placeholders are what build commands may contain.
var Placeholders = []string{"{target}", "{dir}", "{workspace}", "{profile}"}

func checkPlaceholders(s string) error {
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("unclosed { in %q", s)
		}
		ph := rest[i : i+j+1]
		if !oneOf(ph, Placeholders...) {
			return fmt.Errorf("unknown placeholder %s in %q (known: %s)", ph, s, strings.Join(Placeholders, " "))
		}
		rest = rest[i+j+1:]
	}
}

// JobCount is Jobs with 0 resolved to the number of cores.
func (c *Config) JobCount() int {
	if c.Jobs > 0 {
		return c.Jobs
	}
	return runtime.NumCPU()
}

// StoreDir resolves Store against the workspace root.
func (c *Config) StoreDir(root string) string {
	if filepath.IsAbs(c.Store) {
		return c.Store
	}
	return filepath.Join(root, c.Store)
}
