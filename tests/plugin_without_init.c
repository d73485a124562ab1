/* plugin_without_init.c - a shared module that is no plugin: it lacks oversell_plugin_init.
 * tests/strategies.sh hands it to --plugin, which must refuse it with its path before
 * anything starts. */
int ovs_test_not_a_plugin(void);

int ovs_test_not_a_plugin(void)
{
    return 0;
}
