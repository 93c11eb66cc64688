/* Time for waits and durations: a monotonic clock, and sleeping. */
#ifndef HL_CLOCK_H
#define HL_CLOCK_H

/* Seconds on a monotonic clock. */
double hl_clock(void);

/* Now, UTC, as the tools write it ("2026-12-05T06:30:00Z"), into out
 * (at least 21 bytes); returns out. */
char *hl_clock_utc(char *out, unsigned long len);

/* Sleep for s seconds (a signal may cut it short). */
void hl_sleep(double s);

#endif
