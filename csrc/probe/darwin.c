/* SPDX-License-Identifier: MIT */
/* darwin.c: the probe on macOS: libproc footprint, Mach task and host statistics, sysctl. */
#define _DARWIN_C_SOURCE 1 /* rusage_info_v4, xsw_usage: whatever -std says */
#include "probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <libproc.h>
#include <mach/mach.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/sysctl.h>
#include <sys/types.h>
#include <unistd.h>

const char rm_probe_platform[] = "darwin";

/* macOS cannot be built on resmon's CI: this file is kept small and uses
 * only calls documented in the SDK headers, plus one exported libSystem
 * symbol found at run time (proc_reset_footprint_interval). See
 * docs/platforms.md for why rss is the physical footprint here. */

static pid_t target_pid(const rm_probe *p)
{
    return p->pid > 0 ? (pid_t)p->pid : getpid();
}

static mach_port_t host_port(const rm_probe *p)
{
    return (mach_port_t)(uintptr_t)p->platform;
}

int rm_probe_open(rm_probe *p, int pid, const char *root)
{
    mach_port_t host;
    vm_size_t page = 0;

    (void)root;               /* no fake trees on macOS: the calls take no paths */
    memset(p, 0, sizeof(*p)); /* the Linux fds stay unused */
    p->pid = pid > 0 && (pid_t)pid != getpid() ? pid : 0;
    host = mach_host_self(); /* a send right, released in rm_probe_close */
    p->platform = (void *)(uintptr_t)host;
    /* host_statistics64 counts pages of the kernel's size (16 KiB on Apple
     * silicon, also for x86_64 processes under Rosetta). */
    if (host_page_size(host, &page) != KERN_SUCCESS || page == 0)
        page = (vm_size_t)sysconf(_SC_PAGESIZE);
    p->page_size = (long)page;
    return 0;
}

/* The thread count and, for another process, its virtual size. */
static int task_info_of(const rm_probe *p, struct proc_taskinfo *ti)
{
    memset(ti, 0, sizeof(*ti));
    return proc_pidinfo(target_pid(p), PROC_PIDTASKINFO, 0, ti, (int)sizeof(*ti)) ==
           (int)sizeof(*ti);
}

static void read_process(rm_probe *p, rm_sample *s, unsigned what)
{
    struct rusage_info_v4 ri;
    struct proc_taskinfo ti;
    int have_ti = 0;

    if (what & RM_READ_PROC) {
        memset(&ri, 0, sizeof(ri));
        if (proc_pid_rusage(target_pid(p), RUSAGE_INFO_V4, (rusage_info_t *)&ri) == 0) {
            /* rss: the physical footprint (compressed memory included), the
             * number macOS bills the process on; hwm: its maximum since
             * the last proc_reset_footprint_interval (or since start). */
            s->rss = ri.ri_phys_footprint;
            s->hwm = ri.ri_interval_max_phys_footprint;
            if (s->hwm == 0)
                s->hwm = ri.ri_lifetime_max_phys_footprint;
            if (s->hwm < s->rss)
                s->hwm = s->rss;
            s->valid |= RM_HAVE_RSS | RM_HAVE_HWM;
        }
        if (p->pid == 0) {
            mach_task_basic_info_data_t bi;
            mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
            if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&bi, &count) ==
                KERN_SUCCESS) {
                s->vms = bi.virtual_size;
                s->valid |= RM_HAVE_VMS;
            }
        } else if ((have_ti = task_info_of(p, &ti)) != 0) {
            s->vms = ti.pti_virtual_size;
            s->valid |= RM_HAVE_VMS;
        }
    }
    if (what & (RM_READ_DETAIL | RM_READ_THREADS)) {
        if (!have_ti)
            have_ti = task_info_of(p, &ti);
        if (have_ti && ti.pti_threadnum > 0) {
            s->threads = (uint64_t)ti.pti_threadnum;
            s->valid |= RM_HAVE_THREADS;
        }
    }
}

static void read_system(rm_probe *p, rm_sample *s)
{
    vm_statistics64_data_t vm;
    mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
    struct xsw_usage sw;
    uint64_t total = 0, page = (uint64_t)p->page_size;
    size_t len = sizeof(total);

    if (sysctlbyname("hw.memsize", &total, &len, NULL, 0) == 0 && len == sizeof(total)) {
        s->mem_total = total;
        s->valid |= RM_HAVE_MEM_TOTAL;
    }
    memset(&vm, 0, sizeof(vm));
    if (host_statistics64(host_port(p), HOST_VM_INFO64, (host_info64_t)&vm, &count) ==
        KERN_SUCCESS) {
        /* free_count includes the speculative pages (vm_stat subtracts them
         * for "Pages free"); available is free + inactive, as psutil says. */
        uint64_t spec = vm.speculative_count <= vm.free_count ? vm.speculative_count : 0;
        s->mem_free = ((uint64_t)vm.free_count - spec) * page;
        s->mem_avail = ((uint64_t)vm.free_count + vm.inactive_count) * page;
        s->mem_cached = (uint64_t)vm.external_page_count * page; /* file-backed */
        s->valid |= RM_HAVE_MEM_FREE | RM_HAVE_MEM_AVAIL | RM_HAVE_MEM_CACHED;
    }
    memset(&sw, 0, sizeof(sw));
    len = sizeof(sw);
    if (sysctlbyname("vm.swapusage", &sw, &len, NULL, 0) == 0 && len == sizeof(sw)) {
        /* macOS grows swap files on demand: total is what exists now */
        s->swap_total = sw.xsu_total;
        s->swap_free = sw.xsu_avail;
        s->valid |= RM_HAVE_SWAP_TOTAL | RM_HAVE_SWAP_FREE;
    }
}

int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what)
{
    s->valid = 0;
    read_process(p, s, what);
    if (what & RM_READ_SYSTEM)
        read_system(p, s);
    /* no cgroups on macOS: cg_* stay invalid */
    return 0;
}

uint64_t rm_probe_threads(rm_probe *p)
{
    struct proc_taskinfo ti;
    if (task_info_of(p, &ti) && ti.pti_threadnum > 0)
        return (uint64_t)ti.pti_threadnum;
    return 0;
}

int rm_probe_reset_peak(rm_probe *p)
{
    /* resident_size_max cannot be reset, but the footprint's interval
     * maximum can: libSystem exports proc_reset_footprint_interval (macOS
     * 10.14+) without declaring it in the SDK, so look it up. */
    int (*reset)(pid_t);
    void *sym;

    if (p->pid != 0) {
        errno = ENOTSUP;
        return -1;
    }
    sym = dlsym(RTLD_DEFAULT, "proc_reset_footprint_interval");
    if (!sym) {
        errno = ENOTSUP;
        return -1;
    }
    memcpy(&reset, &sym, sizeof(reset)); /* object to function pointer */
    return reset(getpid()) == 0 ? 0 : -1;
}

void rm_probe_close(rm_probe *p)
{
    mach_port_t host = host_port(p);
    if (host != MACH_PORT_NULL)
        mach_port_deallocate(mach_task_self(), host);
    p->platform = NULL;
}

int rm_disk_usage(const char *path, uint64_t *used, uint64_t *avail)
{
    /* statfs, not statvfs: statvfs's block counts are 32-bit on macOS and
     * are scaled or cut for large volumes. */
    struct statfs st;
    if (statfs(path, &st) != 0)
        return -1;
    *used = ((uint64_t)st.f_blocks - (uint64_t)st.f_bfree) * (uint64_t)st.f_bsize;
    *avail = (uint64_t)st.f_bavail * (uint64_t)st.f_bsize;
    return 0;
}
