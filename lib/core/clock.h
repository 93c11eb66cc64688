/* Time for waits and durations: a monotonic clock, and sleeping. */
#ifndef HL_CLOCK_H
#define HL_CLOCK_H

/* Seconds on a monotonic clock. */
double hl_clock(void);

/* Sleep for s seconds (a signal may cut it short). */
void hl_sleep(double s);

#endif
