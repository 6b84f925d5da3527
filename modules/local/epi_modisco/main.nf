process EPI_MODISCO {
    tag "${meta.id}:${meta.model}"
    label 'process_high'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(attributions)

    output:
    tuple val(meta), path("${prefix}"), emit: motifs
    path "versions.yml"               , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_motifs"
    """
    epi-attribute motifs \\
        --attributions ${attributions} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${meta.model}_motifs"
    """
    mkdir -p ${prefix}
    touch ${prefix}/modisco.h5 ${prefix}/motifs.tsv ${prefix}/motifs.html

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
