/* SPDX-License-Identifier: MIT */
/* mach.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax check
 * on Linux). */
#ifndef STUB___mach_mach_h
#define STUB___mach_mach_h
#include <stdint.h>
typedef int kern_return_t;
typedef unsigned int natural_t;
typedef int integer_t;
typedef unsigned int mach_msg_type_number_t;
typedef natural_t mach_port_t;
typedef mach_port_t host_t, task_t, task_name_t, ipc_space_t, mach_port_name_t;
typedef natural_t task_flavor_t;
typedef integer_t *task_info_t;
typedef integer_t host_flavor_t;
typedef integer_t *host_info64_t;
typedef uint64_t mach_vm_size_t;
typedef uintptr_t vm_size_t;
typedef int policy_t;
typedef struct time_value {
    integer_t seconds, microseconds;
} time_value_t;
struct mach_task_basic_info {
    mach_vm_size_t virtual_size, resident_size, resident_size_max;
    time_value_t user_time, system_time;
    policy_t policy;
    integer_t suspend_count;
};
typedef struct mach_task_basic_info mach_task_basic_info_data_t;
#define MACH_TASK_BASIC_INFO 20
#define MACH_TASK_BASIC_INFO_COUNT                                                                 \
    ((mach_msg_type_number_t)(sizeof(mach_task_basic_info_data_t) / sizeof(natural_t)))
#define KERN_SUCCESS 0
#define MACH_PORT_NULL 0
struct vm_statistics64 {
    natural_t free_count, active_count, inactive_count, wire_count;
    uint64_t zero_fill_count, reactivations, pageins, pageouts, faults, cow_faults, lookups, hits,
        purges;
    natural_t purgeable_count, speculative_count;
    uint64_t decompressions, compressions, swapins, swapouts;
    natural_t compressor_page_count, throttled_count, external_page_count, internal_page_count;
    uint64_t total_uncompressed_pages_in_compressor;
};
typedef struct vm_statistics64 vm_statistics64_data_t;
#define HOST_VM_INFO64 4
#define HOST_VM_INFO64_COUNT                                                                       \
    ((mach_msg_type_number_t)(sizeof(vm_statistics64_data_t) / sizeof(integer_t)))
extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
mach_port_t mach_host_self(void);
kern_return_t task_info(task_name_t, task_flavor_t, task_info_t, mach_msg_type_number_t *);
kern_return_t host_statistics64(host_t, host_flavor_t, host_info64_t, mach_msg_type_number_t *);
kern_return_t host_page_size(host_t, vm_size_t *);
kern_return_t mach_port_deallocate(ipc_space_t, mach_port_name_t);
#endif
