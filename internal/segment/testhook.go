package segment

// The hooks below are for tests, here and in internal/hardening, which
// truncate a file at the moments that matter. They are exported because
// tests in other packages set them; the package is internal, so nothing
// outside this module can.

// testHookAfterHeader, when set by a test, runs right after OpenObject
// validated a header: the moment a truncation by another process would
// fault the kind's own checks of its payload.
var testHookAfterHeader func(*Object)

// SetTestHookAfterMap makes Open call fn right after it mapped a file; nil
// removes the hook.
func SetTestHookAfterMap(fn func(*File)) { testHookAfterMap = fn }

// SetTestHookAfterHeader makes OpenObject call fn right after it validated
// a header, before the kind's own checks; nil removes the hook.
func SetTestHookAfterHeader(fn func(*Object)) { testHookAfterHeader = fn }
