"""Stack operations with change sets, the cross-region deploy order, outputs files, teardown, status."""
