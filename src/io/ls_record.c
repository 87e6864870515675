/* ls_record.c - releasing a record (see ls_record.h). */
#include "ls_record.h"

#include <librdkafka/rdkafka.h>

void ls_record_release(ls_record *r)
{
    if (r->msg) rd_kafka_message_destroy(r->msg);
    r->msg = NULL;
}
