package campaign

import (
	"fmt"
	"strconv"
	"strings"
)

// QueuedFlag is a libFuzzer flag a fuzz job handed out through the queue
// may carry to a worker. A job comes from elsewhere, so only flags that
// tune the search and take a number are listed: nothing that names a
// path on the worker (-dict, -artifact_prefix, -exact_artifact_path, ...),
// nothing the campaign runner sets itself (-fork, -max_total_time,
// -ignore_*), nothing that changes what the fuzzer prints (the
// supervisor parses it).
type QueuedFlag struct {
	Name string
	// Min and Max bound the value.
	Min, Max int64
	// Why says what the flag tunes.
	Why string
}

// QueuedFlags are the flags a queued fuzz job may carry, by name.
var QueuedFlags = []QueuedFlag{
	{Name: "max_len", Min: 0, Max: 1 << 24, Why: "the longest input the fuzzer generates"},
	{Name: "len_control", Min: 0, Max: 1 << 20, Why: "how fast the length limit grows"},
	{Name: "timeout", Min: 0, Max: 86400, Why: "seconds after which an input is a timeout"},
	{Name: "rss_limit_mb", Min: 0, Max: 1 << 20, Why: "the memory limit of an input's run"},
	{Name: "malloc_limit_mb", Min: 0, Max: 1 << 20, Why: "the largest single allocation"},
	{Name: "use_value_profile", Min: 0, Max: 1, Why: "value-profile features"},
	{Name: "use_cmp", Min: 0, Max: 1, Why: "comparison-guided mutations"},
	{Name: "use_memmem", Min: 0, Max: 1, Why: "memmem-guided mutations"},
	{Name: "mutate_depth", Min: 1, Max: 1000, Why: "mutations applied in a row"},
	{Name: "shrink", Min: 0, Max: 1, Why: "replace corpus inputs by smaller ones with the same features"},
	{Name: "reduce_inputs", Min: 0, Max: 1, Why: "drop inputs whose features are a subset"},
	{Name: "prefer_small", Min: 0, Max: 1, Why: "prefer small inputs when mutating"},
	{Name: "cross_over", Min: 0, Max: 1, Why: "cross-over mutations"},
	{Name: "only_ascii", Min: 0, Max: 1, Why: "generate ASCII inputs only"},
	{Name: "entropic", Min: 0, Max: 1, Why: "the entropic power schedule"},
	{Name: "seed", Min: 0, Max: 1<<32 - 1, Why: "the random seed"},
	{Name: "detect_leaks", Min: 0, Max: 1, Why: "report memory leaks (with a sanitizer)"},
	{Name: "report_slow_units", Min: 0, Max: 86400, Why: "seconds after which an input is reported as slow"},
}

// QueuedFlagError is a flag a queued fuzz job may not carry.
type QueuedFlagError struct {
	Flag string
	Why  string
}

func (e *QueuedFlagError) Error() string {
	return fmt.Sprintf("libFuzzer flag %q cannot go to a worker: %s", e.Flag, e.Why)
}

// CheckQueuedFlags returns a *QueuedFlagError for the first flag that is
// not -name=N with a name of QueuedFlags and N within its bounds.
func CheckQueuedFlags(flags []string) error {
	for _, f := range flags {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "-"), "=")
		if !strings.HasPrefix(f, "-") || !ok {
			return &QueuedFlagError{Flag: f, Why: "not of the form -name=value"}
		}
		rule, known := queuedFlag(name)
		if !known {
			return &QueuedFlagError{Flag: f, Why: "not one of the flags a queued job may carry (campaign.QueuedFlags)"}
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < rule.Min || n > rule.Max {
			return &QueuedFlagError{Flag: f, Why: fmt.Sprintf("the value must be a whole number from %d to %d", rule.Min, rule.Max)}
		}
	}
	return nil
}

func queuedFlag(name string) (QueuedFlag, bool) {
	for _, r := range QueuedFlags {
		if r.Name == name {
			return r, true
		}
	}
	return QueuedFlag{}, false
}
