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

#endif
