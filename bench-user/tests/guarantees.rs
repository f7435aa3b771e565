//! The README's "What survives what" table, checked against the tests that prove each row: every
//! test a row names must exist as a `#[test]` in the file it names, and the README block must be
//! exactly the rendering of the rows below. A renamed or deleted proof fails this test, so the
//! table cannot promise what nothing tests. `ZSWAP_BENCH_BLESS=1` rewrites the README block.
use std::path::Path;

const BEGIN: &str = "<!-- guarantees:begin (checked by bench-user/tests/guarantees.rs) -->";
const END: &str = "<!-- guarantees:end -->";

/// (what happens, what is guaranteed, proofs as "path/from/repo/root::test_fn").
const ROWS: &[(&str, &str, &[&str])] = &[
    (
        "Ctrl-C or SIGTERM during a run",
        "the runner restores cgroups, swap and zswap parameters itself, exits 130, and keeps the interrupted repeat's result marked `failed`",
        &["bench-user/tests/workload_vm.rs::sigterm_during_a_run_restores_the_machine_by_itself"],
    ),
    (
        "kill -9 of the runner",
        "`zswap-bench cleanup` undoes every recorded change, newest first, from the state file",
        &[
            "bench-user/tests/workload_vm.rs::kill9_during_a_run_then_cleanup_leaves_nothing_behind",
            "bench-user/src/machine/undo.rs::undone_in_reverse_order",
        ],
    ),
    (
        "a crash between recording a change and making it",
        "each change is recorded before it is made, and undoing one that never happened is harmless",
        &[
            "bench-user/src/machine/zswap.rs::each_original_is_recorded_before_its_write_and_restored",
            "bench-user/src/machine/undo.rs::undo_of_changes_that_never_happened_is_harmless",
        ],
    ),
    (
        "a state file of another zswap-bench version",
        "version 1 is read; a newer one is refused with the file named and kept",
        &[
            "bench-user/src/machine/state/tests.rs::cleanup_reads_a_version_1_file",
            "bench-user/src/machine/state/tests.rs::newer_version_is_refused_naming_the_file_and_the_fix",
        ],
    ),
    (
        "a guest kernel panic mid-measurement",
        "the cell fails naming the panic, no result of it claims numbers, the matrix goes on, its reports list the failed cell",
        &[
            "bench-user/tests/matrix_vm.rs::a_killed_then_panicked_matrix_keeps_finished_cells_and_resume_completes_it",
        ],
    ),
    (
        "a hung guest",
        "the timeout kills QEMU (exit 124); no QEMU and no control directory stay on the host",
        &["bench-user/tests/vm.rs::guest_past_timeout_is_killed"],
    ),
    (
        "a guest asked for more vCPUs than it can have",
        "refused before boot naming the kernel's CONFIG_NR_CPUS or QEMU's limit; a guest where another number of CPUs came online runs nothing; a result of another vCPU count than asked is marked `failed`",
        &[
            "bench-user/tests/vm.rs::too_many_vcpus_are_refused_before_boot",
            "bench-user/src/vm/init.rs::fewer_cpus_online_than_given_is_refused_naming_both_counts",
            "bench-user/src/run/vm_cell.rs::a_result_from_another_cpu_count_than_asked_is_discredited",
        ],
    ),
    (
        "kill -9 of the host runner during a VM or a matrix",
        "QEMU dies with it (parent-death signal); finished cells' results stay whole; `cleanup` removes its control directory",
        &[
            "bench-user/tests/vm.rs::sigkilled_runner_leaves_no_qemu_behind",
            "bench-user/tests/matrix_vm.rs::a_killed_then_panicked_matrix_keeps_finished_cells_and_resume_completes_it",
        ],
    ),
    (
        "an interrupted or partly failed matrix",
        "`matrix --resume` keeps valid cells and reruns missing, failed or torn ones; earlier attempts are renamed, never deleted",
        &[
            "bench-user/tests/matrix_vm.rs::a_killed_then_panicked_matrix_keeps_finished_cells_and_resume_completes_it",
            "bench-user/src/matrix/resume.rs::only_a_valid_result_of_the_same_cell_counts_as_done",
        ],
    ),
    (
        "a full results filesystem",
        "the write fails naming `result.json` and the fix; the previous result stays whole; no temp file is left",
        &[
            "bench-results/src/schema/write_tests.rs::full_filesystem_leaves_the_old_result_and_no_temp_file",
        ],
    ),
    (
        "a read-only results directory",
        "refused with the fix before any kernel build or VM boot",
        &[
            "bench-user/tests/hostile_results.rs::read_only_results_dir_is_refused_before_any_boot",
            "bench-user/src/run/ids.rs::unwritable_results_dirs_are_named_with_the_fix",
        ],
    ),
    (
        "the OOM killer takes a worker",
        "the result records an `oom_kill` event with the victim and its memcg (and the memcg's `events.oom_kill`), the run fails cleanly",
        &[
            "bench-user/tests/workload_vm.rs::an_oom_killed_worker_is_an_event_and_the_run_ends_cleanly",
        ],
    ),
    (
        "a Slurm task cancelled (scancel) or killed mid-cell",
        "the task leaves a failure record (or Slurm's own ended state says so); `matrix --status` reports the cell failed, never done, never waited for forever; `--resume --slurm` resubmits only failed, lost and missing cells",
        &[
            "bench-user/tests/slurm_vm.rs::a_slurm_matrix_survives_a_cancelled_task_and_resume_completes_it",
            "bench-user/src/matrix/status.rs::records_decide_and_the_scheduler_only_tells_running_from_lost",
        ],
    ),
    (
        "cells running side by side (`matrix --jobs N`)",
        "each QEMU is pinned to host CPUs no other running cell has; more vCPUs than the host's CPUs is refused unless `--overcommit`; every result records its CPUs and the cells beside it",
        &[
            "bench-user/tests/parallel_vm.rs::two_jobs_run_at_once_on_disjoint_host_cpus_and_say_so",
            "bench-user/src/matrix/local.rs::whole_cores_first_one_node_per_cell_and_disjoint",
            "bench-user/src/matrix/local.rs::hyperthreads_only_when_cores_run_out_and_beyond_that_refused_or_shared",
        ],
    ),
    (
        "hostile result files for compare/plot",
        "truncated, wrong version, missing fields, bad numbers, copied runs, one scenario name with two texts, one kernel's runs on different guests: each refused naming the file (or the guests) and the fix; never a panic or a silent merge",
        &[
            "bench-user/tests/hostile_results.rs::truncated_result_file_is_named_with_the_fix",
            "bench-user/tests/hostile_results.rs::runs_on_two_guests_are_refused_split_or_drawn_apart",
            "bench-user/tests/hostile_results.rs::newer_schema_version_is_named",
            "bench-user/tests/hostile_results.rs::negative_count_is_named_with_its_line",
            "bench-user/tests/hostile_results.rs::copied_run_is_refused_naming_both_copies",
            "bench-user/tests/hostile_results.rs::one_scenario_name_with_two_texts_is_refused",
            "bench-results/src/schema/hostile_tests.rs::missing_required_fields_are_named",
            "bench-results/src/schema/hostile_tests.rs::extreme_values_never_panic_compare_or_render",
        ],
    ),
    (
        "arbitrary input to the parsers",
        "no panic from the scenario, kernel-manifest, matrix-file and result parsers, fuzzed for a time budget in every CI run (and again in a debug build, where an overflow panics)",
        &[
            "bench-user/src/scenario/fuzz_tests.rs::fuzz_scenario_with_arbitrary_text",
            "bench-user/src/scenario/fuzz_tests.rs::fuzz_scenario_with_edits_of_the_shipped_ones",
            "bench-user/src/kernel/manifest_fuzz.rs::fuzz_manifest_with_arbitrary_text",
            "bench-user/src/kernel/manifest_fuzz.rs::fuzz_manifest_with_edits_of_the_shipped_ones",
            "bench-user/src/matrix/file_fuzz.rs::fuzz_matrix_files_with_edits_of_the_shipped_ones",
            "bench-results/src/schema/fuzz_tests.rs::fuzz_reader_with_arbitrary_bytes",
            "bench-results/src/schema/fuzz_tests.rs::fuzz_reader_with_byte_edits_of_a_valid_file",
            "bench-results/src/schema/fuzz_tests.rs::fuzz_reader_with_field_values_swapped",
        ],
    ),
    (
        "malformed input of any kind",
        "an error naming the file, field or flag and the fix, before anything changes (the \"Bad input\" table)",
        &[
            "bench-user/tests/bad_inputs.rs::every_bad_input_gets_its_error_and_the_readme_table_matches",
        ],
    ),
];

/// Is `name` a test function in `file` (a `fn name(` with `#[test]` shortly above it)?
fn is_test(file: &Path, name: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().any(|(i, l)| {
        l.trim_start().starts_with(&format!("fn {name}("))
            && lines[i.saturating_sub(4)..i]
                .iter()
                .any(|p| p.trim() == "#[test]")
    })
}

fn render() -> String {
    let mut t = String::from("| what happens | what is guaranteed | proven by |\n|---|---|---|\n");
    for (what, guarantee, proofs) in ROWS {
        let names: Vec<String> = proofs
            .iter()
            .map(|p| {
                let (file, test) = p.split_once("::").unwrap();
                let short = Path::new(file).file_stem().unwrap().to_string_lossy();
                format!("`{short}::{test}`")
            })
            .collect();
        t += &format!("| {what} | {guarantee} | {} |\n", names.join(", "));
    }
    format!("{BEGIN}\n{t}{END}")
}

#[test]
fn every_guarantee_names_tests_that_exist_and_the_readme_shows_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let missing: Vec<&str> = ROWS
        .iter()
        .flat_map(|r| r.2.iter())
        .filter(|p| {
            let (file, test) = p.split_once("::").unwrap();
            !is_test(&root.join(file), test)
        })
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "proofs that are not tests: {missing:#?}"
    );
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (Some(a), Some(b)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no guarantees block ({BEGIN} ... {END})");
    };
    let current = &readme[a..b + END.len()];
    let generated = render();
    if current != generated {
        if std::env::var("ZSWAP_BENCH_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&readme_path, readme.replace(current, &generated)).unwrap();
        } else {
            panic!(
                "README.md's \"What survives what\" table differs from the rows in this test; \
                 run `ZSWAP_BENCH_BLESS=1 cargo test -p bench-user --test guarantees` and commit README.md.\n{generated}"
            );
        }
    }
}
