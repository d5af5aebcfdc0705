package segment

// SetTestHookAfterLink makes Create call fn right after it published a
// file under its name, for tests that kill a creator at that moment.
func SetTestHookAfterLink(fn func()) { testHookAfterLink = fn }
