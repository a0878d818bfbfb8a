/* SPDX-License-Identifier: MIT */
/* oom.c: what resmon-sampler may claim about an OOM kill: proof from the kernel, support or
 * contradiction from samples. */
#include "sampler.h"

#include <string.h>

/* ---- memory headroom of one sample -------------------------------------- */

/* a as a percentage of b (b > 0); a double so no size overflows */
static double pct_of(uint64_t a, uint64_t b)
{
    return (double)a * 100.0 / (double)b;
}

int rm_cg_working_set(const rm_sample *m, uint64_t *ws)
{
    if (!(m->valid & RM_HAVE_CG_USAGE))
        return 0;
    *ws = m->cg_usage;
    if (!(m->valid & RM_HAVE_CG_INACTIVE_FILE))
        return 0;
    *ws -= m->cg_inactive_file < m->cg_usage ? m->cg_inactive_file : m->cg_usage;
    return 1;
}

int rm_mem_judge(const rm_sample *m)
{
    int known = 0, near = 0, ample = 1;
    if ((m->valid & RM_HAVE_MEM_AVAIL) && (m->valid & RM_HAVE_MEM_TOTAL) && m->mem_total) {
        double pct = pct_of(m->mem_avail, m->mem_total);
        known = 1;
        near |= pct < RM_NEAR_AVAIL_PCT;
        ample &= pct >= RM_AMPLE_AVAIL_PCT;
    }
    if ((m->valid & RM_HAVE_CG_USAGE) && (m->valid & RM_HAVE_CG_LIMIT) &&
        m->cg_limit != RM_NO_LIMIT && m->cg_limit) {
        uint64_t ws = 0;
        double pct;
        int exact = rm_cg_working_set(m, &ws);
        pct = pct_of(ws, m->cg_limit);
        known = 1;
        /* without memory.stat, page cache cannot be told from use: the raw
         * usage may show ample room, never a limit near */
        if (exact)
            near |= pct >= RM_NEAR_CG_PCT;
        ample &= pct <= RM_AMPLE_CG_PCT;
    }
    if (!known)
        return RM_MEM_UNKNOWN;
    if (near)
        return RM_MEM_NEAR;
    return ample ? RM_MEM_AMPLE : RM_MEM_TIGHT;
}

/* ---- the last samples before the end ------------------------------------ */

void rm_oom_window_add(rm_oom_window *w, uint64_t at, int state)
{
    memmove(w->at + 1, w->at, (RM_OOM_LAST - 1) * sizeof(w->at[0]));
    memmove(w->state + 1, w->state, (RM_OOM_LAST - 1) * sizeof(w->state[0]));
    w->at[0] = at;
    w->state[0] = state;
    if (w->n < RM_OOM_LAST)
        w->n++;
}

int rm_oom_window_judge(const rm_oom_window *w, uint64_t end, uint64_t max_age)
{
    size_t i, used = 0, near = 0, ample = 0;
    for (i = 0; i < w->n; i++) {
        uint64_t age = end > w->at[i] ? end - w->at[i] : 0;
        if (age > max_age)
            break; /* older ones are older still */
        used++;
        near += w->state[i] == RM_MEM_NEAR;
        ample += w->state[i] == RM_MEM_AMPLE;
    }
    if (near)
        return RM_OOM_SUPPORT;
    if (used && ample == used)
        return RM_OOM_CONTRA;
    return 0;
}

/* ---- kernel OOM reports ------------------------------------------------- */

void rm_oom_tree_remember(rm_oom_tree *t, int pid)
{
    size_t i;
    if (pid <= 0)
        return;
    for (i = 0; i < RM_SEEN_PIDS; i++)
        if (t->seen[i] == pid)
            return;
    t->seen[t->seen_next] = pid;
    t->seen_next = (t->seen_next + 1) % RM_SEEN_PIDS;
}

int rm_oom_tree_seen(const rm_oom_tree *t, int pid)
{
    size_t i;
    if (pid <= 0)
        return 0;
    for (i = 0; i < RM_SEEN_PIDS; i++)
        if (t->seen[i] == pid)
            return 1;
    return 0;
}

int rm_oom_in_tree(const rm_oom_tree *t, int pid)
{
    int d;
    if (pid <= 0 || (t->child <= 0 && t->root_pid <= 0))
        return 0;
    if (pid == t->child || pid == t->root_pid)
        return 1;
    /* the process as it is now: a victim is readable until it is reaped */
    d = t->root_pid > 0 ? rm_proc_descends(t->proc_root ? t->proc_root : "", pid, t->root_pid) : -1;
    if (d == 1)
        return 1;
    if (d == 0 && t->closed)
        return 0; /* alive outside a tree nothing leaves: the pid was reused */
    return rm_oom_tree_seen(t, pid);
}

int rm_kmsg_is_new(const rm_kmsg_oom *k, uint64_t since_usec)
{
    if (!k->have_ts)
        return 1;
    return k->ts_usec + RM_KMSG_SLACK_USEC >= since_usec;
}
