"""The COSEM object model: OBIS codes, interface classes as data, the logical device."""
