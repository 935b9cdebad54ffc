#pragma once

// Clang's thread-safety attributes, under names that say what they promise: a member marked
// GUARDED_BY(mu_) is read or written only with mu_ held; a function marked REQUIRES(mu_) is
// called with mu_ held, EXCLUDES(mu_) without it. Clang checks these promises at compile time
// (-Wthread-safety, an error in Vigil's clang builds: cmake/VigilCompileOptions.cmake); under
// other compilers (g++, mingw-w64, MSVC) the macros expand to nothing.
//
// The capability type to annotate is vigil::Mutex (common/mutex.h): std::mutex carries no
// attributes in libstdc++.

#if defined(__clang__)
#define VIGIL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define VIGIL_THREAD_ANNOTATION(x)
#endif

// On a class: its objects are locks (capabilities) named `x` in diagnostics.
#define CAPABILITY(x) VIGIL_THREAD_ANNOTATION(capability(x))
// On a class: an RAII object that holds a capability from construction to destruction.
#define SCOPED_CAPABILITY VIGIL_THREAD_ANNOTATION(scoped_lockable)

// On a data member: read or written only with the given capability held.
#define GUARDED_BY(x) VIGIL_THREAD_ANNOTATION(guarded_by(x))
// On a pointer member: the pointee is read or written only with the capability held.
#define PT_GUARDED_BY(x) VIGIL_THREAD_ANNOTATION(pt_guarded_by(x))

// On a function: callers hold the capabilities (exclusively) / do not hold them.
#define REQUIRES(...) VIGIL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) VIGIL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: it acquires / releases the capabilities (no argument: `this`).
#define ACQUIRE(...) VIGIL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) VIGIL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) VIGIL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// On a function: it returns only if the capability is held (a run-time check the analysis
// then trusts).
#define ASSERT_CAPABILITY(x) VIGIL_THREAD_ANNOTATION(assert_capability(x))

// On a function: it returns a reference to the given capability.
#define RETURN_CAPABILITY(x) VIGIL_THREAD_ANNOTATION(lock_returned(x))

// On a function: the analysis skips its body. Each use says why the locking is right anyway.
#define NO_THREAD_SAFETY_ANALYSIS VIGIL_THREAD_ANNOTATION(no_thread_safety_analysis)
