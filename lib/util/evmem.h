/* evmem.h - libevent's small records in pools of their own */
#ifndef OE_EVMEM_H
#define OE_EVMEM_H

void	evmem_init(void);

#endif
