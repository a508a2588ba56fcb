"""The application layer: each command of the harness as a plain function that takes explicit
arguments and returns a result object, in the manner of benchopt's ``run_benchmark``. The
command line (``bench.cli``) only parses, calls these, prints and maps errors to exit codes;
a script or a notebook calls them the same way::

    from bench.app.run import plan_run, run
    result = run(plan_run(["fft", "siren"], ["sin31"], seeds=2))
    print(result.summary, result.records_file)

Modules (imported on demand, so that ``--help`` stays fast):

    run         plan_run, ready, run -> RunPlan, RunResult
    tune        plan_tune, tune -> TunePlan, TuneResult
    report      report -> bench.report.Outcome; report_run; the plugin lookups a report needs
    data        export, merge -> ExportResult, MergeResult
    landscape   plan_landscape, draw -> LandscapeResult
    catalogue   catalogue -> the registered methods and tasks (``list``)
    execution   Execution: where and how runs execute (shared by run and tune)
    errors      UsageError: what was asked is wrong (the command line's exit code 2)
    folders     checks on the folders read and written, before any work starts

Bad input raises :class:`bench.app.errors.UsageError` with one line naming the command.
"""
