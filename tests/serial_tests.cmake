# Read by ctest after the discovered tests: the ones that load the whole machine run alone, so that
# neither they nor their neighbours fail for want of CPU on a small CI machine.
set_tests_properties(
  "shared: 50 concurrent execs across 5 workspaces go through one holder and one connection per workspace"
  PROPERTIES RUN_SERIAL TRUE)
