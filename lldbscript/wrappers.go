package lldbscript

import "regexp"

// This file is the wrapper knowledge that cannot be read from DWARF: which
// std types a Rust-level path steps through without naming them. How to
// step through one (which fields lead to the wrapped value) is NOT here: it
// is searched in the binary's DWARF (members, pointers, template
// parameters), because std layouts change between Rust releases (Mutex
// moved to std::sync::poison in 1.84, RcBox became RcInner, RawVec became
// RawVecInner, ...).

// WrapperRule names a std type that is a transparent wrapper around one of
// its generic parameters.
type WrapperRule struct {
	// Type matches the type's name without generic arguments.
	Type *regexp.Regexp
	// Param is the template parameter holding the wrapped value.
	Param string
	// Why says what the wrapper is, for people reading the table.
	Why string
}

// transparentWrappers are stepped through when a path names a field,
// variant or index the wrapper itself does not have:
// `device.channels` on an Arc<Mutex<Device>> reaches Device's field.
var transparentWrappers = []WrapperRule{
	{re(`^alloc::sync::Arc$`), "T", "shared ownership; the value is in ArcInner.data"},
	{re(`^alloc::sync::ArcInner$`), "T", "Arc's heap block (counts and the value)"},
	{re(`^alloc::sync::Weak$`), "T", "weak Arc reference"},
	{re(`^alloc::rc::Rc$`), "T", "shared ownership; the value is in RcInner.value"},
	{re(`^alloc::rc::(RcInner|RcBox)$`), "T", "Rc's heap block"},
	{re(`^alloc::rc::Weak$`), "T", "weak Rc reference"},
	{re(`^alloc::boxed::Box$`), "T", "owned heap value (a plain pointer in DWARF)"},
	{re(`^core::ptr::non_null::NonNull$`), "T", "non-null pointer"},
	{re(`^core::ptr::unique::Unique$`), "T", "owning pointer"},
	{re(`^core::cell::UnsafeCell$`), "T", "interior mutability primitive"},
	{re(`^core::cell::SyncUnsafeCell$`), "T", "interior mutability primitive"},
	{re(`^core::cell::Cell$`), "T", "interior mutability for Copy values"},
	{re(`^core::cell::RefCell$`), "T", "dynamically borrowed cell"},
	{re(`^core::cell::(Ref|RefMut)$`), "T", "RefCell borrow guards"},
	{re(`^core::cell::once::OnceCell$`), "T", "write-once cell"},
	{re(`^core::mem::manually_drop::ManuallyDrop$`), "T", "value not dropped automatically"},
	{re(`^core::pin::Pin$`), "Ptr", "pinned pointer"},
	{re(`^std::sync::(poison::)?(mutex::)?Mutex$`), "T", "std Mutex; the value is in data (UnsafeCell)"},
	{re(`^std::sync::(poison::)?(mutex::)?MutexGuard$`), "T", "a held std Mutex lock"},
	{re(`^std::sync::(poison::)?(rwlock::)?RwLock$`), "T", "std RwLock; the value is in data"},
	{re(`^std::sync::(poison::)?(rwlock::)?RwLock(Read|Write)Guard$`), "T", "a held RwLock"},
	{re(`^std::sync::(once_lock::)?OnceLock$`), "T", "write-once lock"},
	{re(`^std::sync::(lazy_lock::)?LazyLock$`), "T", "lazily initialised value"},
	{re(`^core::num::wrapping::Wrapping$`), "T", "wrapping arithmetic newtype"},
	{re(`^core::sync::atomic::Atomic\w*$`), "T", "atomics: the number is in v.value"},
}

// stdCrates are the crates whose generic types are only stepped through
// when transparentWrappers lists them. A generic struct from any other
// crate (a user wrapper such as CloseableMutex<T>, parking_lot's Mutex) is
// stepped through when its own fields lead to one of its type parameters
// and the path continues from there.
var stdCrates = re(`^(std|core|alloc)::`)

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// wrapperRule returns the table row for t, or nil.
func wrapperRule(t *Type) *WrapperRule {
	p := t.Path()
	for i := range transparentWrappers {
		if transparentWrappers[i].Type.MatchString(p) {
			return &transparentWrappers[i]
		}
	}
	return nil
}

// WrapperTable returns the transparent-wrapper table, for documentation
// and `triage lldb --wrappers`.
func WrapperTable() []WrapperRule { return append([]WrapperRule(nil), transparentWrappers...) }
