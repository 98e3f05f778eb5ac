# The perflab command's contract: --help and --version exit 0, bad usage exits 2
# with a "perflab: error:" line.
add_test(NAME cli_version COMMAND perflab_cli --version)
set_tests_properties(cli_version PROPERTIES PASS_REGULAR_EXPRESSION "^perflab ${PROJECT_VERSION}" LABELS cli)
add_test(NAME cli_help COMMAND perflab_cli --help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "Exit codes: 0 pass" LABELS cli)
add_test(NAME cli_version_subcommand COMMAND perflab_cli version)
set_tests_properties(cli_version_subcommand PROPERTIES PASS_REGULAR_EXPRESSION "components: pool" LABELS cli)

# sh checks both the exit code and the message (a PASS_REGULAR_EXPRESSION
# would make ctest ignore the exit code).
set(_expect_usage_error [=[out=$("$1" "$2" 2>&1); rc=$?; echo "$out"; echo "exit code $rc";
  [ "$rc" -eq 2 ] && echo "$out" | grep -q "^perflab: error: .*$2"]=])
add_test(NAME cli_unknown_flag_exits_2
         COMMAND sh -c "${_expect_usage_error}" sh $<TARGET_FILE:perflab_cli> --no-such-flag)
add_test(NAME cli_unknown_subcommand_exits_2
         COMMAND sh -c "${_expect_usage_error}" sh $<TARGET_FILE:perflab_cli> frobnicate)
set_tests_properties(cli_unknown_flag_exits_2 cli_unknown_subcommand_exits_2 PROPERTIES LABELS cli)
