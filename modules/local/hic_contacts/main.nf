process HIC_CONTACTS {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(pairs), path(hic)

    output:
    tuple val(meta), path("${prefix}.contacts.tsv")     , emit: pairs
    tuple val(meta), path("${prefix}.contacts.tsv.json"), emit: info
    path "versions.yml"                                 , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def hic_arg = hic ? "--hic ${hic}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-contacts \\
        --pairs ${pairs} \\
        ${hic_arg} \\
        --out ${prefix}.contacts.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.contacts.tsv
    echo '{}' > ${prefix}.contacts.tsv.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
