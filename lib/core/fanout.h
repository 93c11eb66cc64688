/*
 * Run n jobs, at most `parallel` at a time, each in its own forked
 * process: one job's crash or hang stays its own.  Each job's result is
 * one JSON value, read back through a pipe.
 */
#ifndef HL_FANOUT_H
#define HL_FANOUT_H

#include <stddef.h>

#include <jv.h>

/*
 * work(i, forked, arg) does job i and returns its result; forked says it
 * runs in a child (which must make its own connections).  With parallel
 * <= 1, or one job, the jobs run in this process, one after another.
 * Returns an array of n results, in job order; a job whose process died
 * without one gives {"died": "<how>"}.  A job's process dies with this
 * one (PR_SET_PDEATHSIG): killing the run stops all of its work.
 */
jv hl_fanout(size_t n, int parallel, jv (*work)(size_t, int, void *),
    void *arg);

/*
 * Fold hl_fanout's results (consumed) into the entries a document lists:
 * each job's result carries "code", its exit status, which is taken out;
 * a job whose process died is replaced by died(i, how, arg), an entry with
 * its "code".  *code gets the worst status (hl_exit_worse).  Returns the
 * entries in job order.
 */
jv hl_fanout_collect(jv results, int *code,
    jv (*died)(size_t i, const char *how, void *arg), void *arg);

#endif
